"""Relation names the model never trained on: their own threshold, the pair's best label
only, and the direction that scores higher."""

TEXT = "Guido van Rossum created the Python language while working at CWI in Amsterdam."
ENTITIES = ["person", "programming language", "research institute", "city"]


def _triplets(x, relation_labels, **kw):
    out = x.extract([TEXT], ENTITIES, relation_labels, **kw)[0]
    return {(out.entities[r.head].text, r.label, out.entities[r.tail].text) for r in out.relations}


def test_seen_names_are_matched_up_to_spelling(shipped_extractor):
    shipped_extractor.config.seen_relation_labels = ["work for", "located in"]
    shipped_extractor._seen_names, shipped_extractor._seen_cache = {}, {}
    assert shipped_extractor._seen_relation("works for")
    assert shipped_extractor._seen_relation("Located In")
    assert shipped_extractor._seen_relation("located in: where something is")  # described label
    assert not shipped_extractor._seen_relation("employed by")


def test_unseen_names_get_their_own_threshold(shipped_extractor):
    config = shipped_extractor.config
    config.seen_relation_labels = ["work for", "located in"]
    shipped_extractor._seen_names, shipped_extractor._seen_cache = {}, {}
    labels = ["employed by", "located in"]
    config.unseen_relation_threshold = None
    before = _triplets(shipped_extractor, labels)
    config.unseen_relation_threshold = 0.05
    after = _triplets(shipped_extractor, labels)
    assert ("Guido van Rossum", "employed by", "CWI") in after - before
    # seen names keep the checkpoint's threshold: their relations are the same
    assert {t for t in after if t[1] == "located in"} == {t for t in before if t[1] == "located in"}
    # an explicit threshold still applies to every name
    assert not _triplets(shipped_extractor, labels, relation_threshold=0.99)
    config.unseen_relation_threshold = None


def test_an_unseen_name_is_taken_once_per_pair_and_one_way(shipped_extractor):
    config = shipped_extractor.config
    config.seen_relation_labels = ["located in"]
    shipped_extractor._seen_names, shipped_extractor._seen_cache = {}, {}
    config.unseen_relation_threshold = 0.01  # every pair's best unseen label passes
    found = _triplets(shipped_extractor, ["employed by", "works at", "affiliated with"])
    pairs = [(h, t) for h, _, t in found]
    assert len(pairs) == len(set(pairs))  # one label per pair
    assert not any((t, r, h) in found for h, r, t in found)  # each name one way per pair
    config.unseen_relation_threshold = None
