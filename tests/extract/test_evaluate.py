from kgbuild.extract.inference.extractor import WordEntity, WordRelation
from kgbuild.extract.training.data import Example
from kgbuild.extract.training.evaluate import score_predictions


def _example():
    return Example(
        words="John Smith works for Acme Corp in Paris .".split(),
        entities=[(0, 2, "people"), (4, 6, "organization"), (7, 8, "location")],
        relations=[(0, 1, "work for"), (1, 2, "organization based in")],
        entity_labels=["people", "organization", "location"],
        relation_labels=["work for", "organization based in", "near"],
        symmetric={"near"},
    )


def test_strict_scores():
    ex = _example()
    ents = [
        WordEntity(0, 2, "people", 0.9),
        WordEntity(4, 5, "organization", 0.9),  # boundary wrong
        WordEntity(7, 8, "location", 0.9),
    ]
    rels = [
        WordRelation(0, 1, "work for", 0.9),  # tail boundary wrong -> not correct
        WordRelation(1, 2, "organization based in", 0.9),
    ]
    s = score_predictions([ex], [(ents, rels)])
    assert round(s["ner_micro_f1"], 2) == round(100 * 2 / 3, 2)
    assert s["rel_micro_f1"] == 0.0
    perfect = [
        WordEntity(0, 2, "people", 1),
        WordEntity(4, 6, "organization", 1),
        WordEntity(7, 8, "location", 1),
    ]
    s = score_predictions(
        [ex],
        [
            (
                perfect,
                [WordRelation(0, 1, "work for", 1), WordRelation(1, 2, "organization based in", 1)],
            )
        ],
    )
    assert s["ner_micro_f1"] == s["rel_micro_f1"] == 100.0
    # wrong entity type makes the relation wrong (RE+)
    typed = [WordEntity(0, 2, "location", 1), *perfect[1:]]
    s = score_predictions([ex], [(typed, [WordRelation(0, 1, "work for", 1)])])
    assert s["rel_micro_f1"] == 0.0


def test_symmetric_relation_counts_either_direction():
    ex = _example()
    ex.relations = [(1, 2, "near")]
    ents = [
        WordEntity(0, 2, "people", 1),
        WordEntity(4, 6, "organization", 1),
        WordEntity(7, 8, "location", 1),
    ]
    s = score_predictions([ex], [(ents, [WordRelation(2, 1, "near", 1)])])
    assert s["rel_micro_f1"] == 100.0
    assert s["rel"]["per_type"]["near"]["f1"] == 100.0


def test_reversed_relations_are_counted():
    ex = _example()
    ents = [
        WordEntity(0, 2, "people", 1),
        WordEntity(4, 6, "organization", 1),
        WordEntity(7, 8, "location", 1),
    ]
    preds = [
        WordRelation(1, 0, "work for", 1),  # the gold pair, the wrong way round
        WordRelation(1, 2, "organization based in", 1),  # right
        WordRelation(2, 0, "organization based in", 1),  # wrong, but not reversed
    ]
    s = score_predictions([ex], [(ents, preds)])
    assert s["reversed_relations"] == 1
    assert s["predicted_relations"] == 3
    # a symmetric relation cannot be reversed
    ex.relations = [(1, 2, "near")]
    s = score_predictions([ex], [(ents, [WordRelation(2, 1, "near", 1)])])
    assert s["reversed_relations"] == 0
