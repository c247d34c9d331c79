"""Entity types the model never trained on: their own threshold, picked on dev data whose
types are read as unseen."""

import copy
from pathlib import Path

import numpy as np

from kgbuild.extract.training.config import TrainConfig
from kgbuild.extract.training.data import read_spert
from kgbuild.extract.training.thresholds import seen_entity_names, tune_unseen_entity_threshold

TEXT = "Guido van Rossum created the Python language while working at CWI in Amsterdam."
ENTITIES = ["person", "programming language", "research institute", "city"]


def _entities(x, labels, **kw):
    out = x.extract([TEXT], labels, [], **kw)[0]
    return {(e.text, e.label) for e in out.entities}


def _seen(x, entity_labels, threshold):
    x.config.seen_entity_labels = entity_labels
    x.config.unseen_entity_threshold = threshold
    x._seen_names, x._seen_cache = {}, {}


def test_seen_types_are_matched_up_to_spelling(shipped_extractor):
    _seen(shipped_extractor, ["person", "organization"], None)
    assert shipped_extractor._seen_label("Person", "entity")
    assert shipped_extractor._seen_label("organisation", "entity")
    assert shipped_extractor._seen_label("person: a human being", "entity")  # described label
    assert not shipped_extractor._seen_label("research institute", "entity")
    # entity and relation names are separate lists
    assert not shipped_extractor._seen_label("person", "relation")


def test_unseen_types_get_their_own_threshold(shipped_extractor):
    _seen(shipped_extractor, ["person", "city"], None)
    before = _entities(shipped_extractor, ENTITIES)
    assert {("Guido van Rossum", "person"), ("Amsterdam", "city")} <= before
    _seen(shipped_extractor, ["person", "city"], 0.999)
    strict = _entities(shipped_extractor, ENTITIES)
    # the seen types keep the checkpoint's threshold; the unseen ones are held to 0.999
    assert {e for e in before if e[1] in ("person", "city")} == {
        e for e in strict if e[1] in ("person", "city")
    }
    assert not {e for e in strict if e[1] not in ("person", "city")}
    assert {e for e in before if e[1] not in ("person", "city")}  # there was one to drop
    # an explicit threshold still applies to every type
    one = shipped_extractor.config.entity_threshold
    assert _entities(shipped_extractor, ENTITIES, entity_threshold=one) == before
    _seen(shipped_extractor, None, None)


def test_a_span_takes_the_best_label_that_passes_its_own_threshold(shipped_extractor):
    width = shipped_extractor.config.max_width
    probs = np.zeros((2 * width, 2))
    probs[0] = [0.15, 0.12]  # word 0 alone: "a" is higher but below its threshold
    probs[width] = [0.05, 0.02]  # word 1 alone: neither passes
    found = shipped_extractor._decode_entities(probs, ["a", "b"], {"a": 0.2, "b": 0.1})
    assert [(e.start, e.end, e.label) for e in found] == [(0, 1, "b")]
    # one number for every label: the best label or nothing
    assert shipped_extractor._decode_entities(probs, ["a", "b"], 0.2) == []
    assert [e.label for e in shipped_extractor._decode_entities(probs, ["a", "b"], 0.1)] == ["a"]


def test_the_unseen_threshold_is_picked_on_dev_sets_read_as_unseen(
    shipped_extractor, datasets: Path
):
    dev = read_spert(
        datasets / "conll04/conll04_dev.json", datasets / "conll04/conll04_types.json"
    )[:6]
    train = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:20]
    cfg = TrainConfig(train=[], dev_limit=6, threshold_grid=[0.3, 0.9])
    cfg.unseen_entity_threshold_dev = ["conll04-dev", "missing"]
    model, tokenizer = shipped_extractor.model, shipped_extractor.encoder.tokenizer
    saved = copy.deepcopy(model.config)
    try:
        picked = tune_unseen_entity_threshold(
            model, tokenizer, {"conll04-dev": dev}, cfg, {"conll04": train}
        )
        # every CoNLL04 type is read as unseen on its own dev set, so 0.9 (nearly
        # nothing found) cannot win against the low thresholds
        assert picked in (0.05, 0.1, 0.15, 0.3)
        assert model.config.unseen_entity_threshold == picked
        assert model.config.seen_entity_labels == seen_entity_names(cfg, {"conll04": train})
        assert set(model.config.seen_entity_labels) == {t for ex in train for *_, t in ex.entities}
        cfg.unseen_entity_threshold_dev = []
        assert tune_unseen_entity_threshold(model, tokenizer, {"conll04-dev": dev}, cfg) is None
    finally:
        model.config = shipped_extractor.config = saved
