"""Readers of the label-diversity datasets, each on a slice of the real files."""

import xml.etree.ElementTree as ET

import pytest

from kgbuild.extract.training.data import (
    WEBNLG_ENTITY_LABEL,
    AlignmentStats,
    label_variant,
    read_conll_ner,
    read_re3d,
    read_webnlg,
    relation_variant,
    split_predicate,
    webnlg_predicates,
    wikidata_relation_names,
)
from kgbuild.extract.training.datasets import read_dataset


@pytest.mark.parametrize(
    ("predicate", "phrase"),
    [
        ("birthPlace", "birth place"),
        ("leaderName", "leader name"),
        ("ISBN_number", "isbn number"),
        ("elevationAboveTheSeaLevel_(in_metres)", "elevation above the sea level (in metres)"),
        ("LCCN_number", "lccn number"),
    ],
)
def test_split_predicate(predicate, phrase):
    assert split_predicate(predicate) == phrase


def test_webnlg_aligns_reference_strings(datasets):
    path = datasets / "webnlg/en/train/2triples/Airport.xml"
    stats = AlignmentStats()
    examples = read_webnlg(path, stats=stats)
    assert len(examples) > 100
    first = examples[0]
    # "Aarhus airport serves the city of Aarhus who's leader is Jacob Bundsgaard."
    text = " ".join(first.words)
    assert text.startswith("Aarhus airport serves")
    spans = {" ".join(first.words[s:e]) for s, e, _ in first.entities}
    assert {"Aarhus airport", "Aarhus", "Jacob Bundsgaard"} <= spans
    assert all(label == WEBNLG_ENTITY_LABEL for *_, label in first.entities)
    # relations hold between clusters, labelled with split predicate names
    rels = {
        (
            " ".join(
                first.words[
                    first.entities[first.clusters[h][0]][0] : first.entities[first.clusters[h][0]][
                        1
                    ]
                ]
            ),
            r,
        )
        for h, _, r in first.relations
    }
    assert ("Aarhus airport", "city served") in rels
    assert ("Aarhus", "leader name") in rels
    # every example's mentions are words of its text; what failed to align was counted
    for ex in examples:
        for s, e, _ in ex.entities:
            assert 0 <= s < e <= len(ex.words)
    assert stats.mentions > stats.dropped_mentions > 0
    assert stats.triples > stats.dropped_triples


def test_webnlg_reference_used_once(datasets):
    # two references with the same string take two different occurrences
    path = datasets / "webnlg/en/train/2triples/Airport.xml"
    for ex in read_webnlg(path):
        spans = [(s, e) for s, e, _ in ex.entities]
        assert len(spans) == len(set(spans))


def test_webnlg_held_out_predicates(datasets):
    path = datasets / "webnlg/en/train/2triples/Airport.xml"
    everything = read_webnlg(path)
    held = {"city served"}
    train = read_webnlg(path, exclude_predicates=held)
    assert train and len(train) < len(everything)
    assert not any(r == "city served" for ex in train for *_, r in ex.relations)
    assert not any("city served" in ex.relation_labels for ex in train)
    only = read_webnlg(path, only_predicates=held)
    assert only and all({r for *_, r in ex.relations} == held for ex in only)
    counts = webnlg_predicates(path)
    assert counts["city served"] >= len(only)


def test_webnlg_drops_pronoun_references(datasets, tmp_path):
    xml = """<benchmark><entries><entry category="City" eid="1" size="1">
      <modifiedtripleset><mtriple>Paris | country | France</mtriple></modifiedtripleset>
      <lex lid="1"><references>
        <reference entity="Paris" tag="AGENT-1" type="name">Paris</reference>
        <reference entity="Paris" tag="AGENT-1" type="pronoun">It</reference>
        <reference entity="France" tag="PATIENT-1" type="name">France</reference>
        <reference entity="France" tag="PATIENT-1" type="name">Frankreich</reference>
      </references><text>Paris is lovely. It is in France.</text></lex>
    </entry></entries></benchmark>"""
    f = tmp_path / "one.xml"
    f.write_text(xml)
    ET.parse(f)
    stats = AlignmentStats()
    (ex,) = read_webnlg(f, stats=stats)
    assert [ex.words[s] for s, _, _ in ex.entities] == ["Paris", "France"]
    assert ex.relations == [(0, 1, "country")]
    assert stats.mentions == 3 and stats.dropped_mentions == 1  # "Frankreich" not in text


def test_re3d_offsets_become_word_spans(datasets):
    stats = AlignmentStats()
    examples = read_re3d(datasets / "re3d", ["BBC Online"], stats=stats)
    assert examples
    texts = " ".join(" ".join(ex.words) for ex in examples)
    assert "Syria" in texts
    labels = {label for ex in examples for *_, label in ex.entities}
    assert {"location", "organization", "person"} <= labels
    assert any(ex.relations for ex in examples)
    for ex in examples:
        assert len(ex.words) <= 200
        for h, t, r in ex.relations:
            assert r in ex.relation_labels
            assert 0 <= h < len(ex.entities) and 0 <= t < len(ex.entities)
    # the first document: "Syria has accused Israel ..." ("Syria" is typed organization, its
    # most confident type) and the "dislikes" relation between them
    first = examples[0]
    ents = {(" ".join(first.words[s:e]), label) for s, e, label in first.entities}
    assert ("Syria", "organization") in ents
    named = {(" ".join(first.words[first.entities[h][0]:first.entities[h][1]]),
              " ".join(first.words[first.entities[t][0]:first.entities[t][1]]), r)
             for h, t, r in first.relations}  # fmt: skip
    assert ("Syria", "Israel", "dislikes") in named
    assert stats.mentions > 0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ner-extra/WNUT17/CONLL-format/data/train/wnut17train.conll", {"location", "person"}),
        (
            "ner-extra/wikigold/CONLL-format/data/wikigold.conll.txt",
            {"miscellaneous", "organization"},
        ),
        ("ner-extra/GUM/CONLL-format/data/train/gum-train.conll", {"animal", "place", "event"}),
    ],
)
def test_conll_ner_readers(datasets, path, expected):
    examples = read_conll_ner(datasets / path)
    assert len(examples) > 1000
    labels = {label for ex in examples for *_, label in ex.entities}
    assert expected <= labels
    assert all(not ex.relations for ex in examples)


def test_wikigold_iob1_entities(datasets):
    examples = read_conll_ner(datasets / "ner-extra/wikigold/CONLL-format/data/wikigold.conll.txt")
    first = examples[
        0
    ]  # "010 is the tenth album from Japanese Punk Techno band The Mad Capsule Markets ."
    ents = {(" ".join(first.words[s:e]), label) for s, e, label in first.entities}
    assert ("The Mad Capsule Markets", "organization") in ents
    assert ("010", "miscellaneous") in ents


def test_gum_drops_pronoun_entities_and_restricts_labels(datasets):
    path = datasets / "ner-extra/GUM/CONLL-format/data/train/gum-train.conll"
    examples = read_conll_ner(path, labels=["person", "place"])
    assert {label for ex in examples for *_, label in ex.entities} == {"person", "place"}
    assert all(ex.entity_labels == ["person", "place"] for ex in examples)
    spans = [" ".join(ex.words[s:e]).lower() for ex in examples for s, e, _ in ex.entities]
    assert "my" not in spans and "i" not in spans and "we" not in spans


def test_read_dataset_dispatches_new_formats(datasets):
    ex = read_dataset(
        {"format": "re3d", "path": "re3d", "sources": ["Wikipedia"], "limit": 3}, datasets
    )
    assert len(ex) == 3
    gum = "ner-extra/GUM/CONLL-format/data/test/gum-test.conll"
    ex = read_dataset({"format": "conll", "path": gum, "limit": 5}, datasets)
    assert len(ex) == 5


def test_wikidata_relation_pool(datasets):
    pool = wikidata_relation_names(datasets / "wikidata-properties/all_wikidata_properties.json")
    assert len(pool) > 10_000
    assert "place of birth" in pool
    assert "birth" in pool["place of birth"].lower()


def test_label_phrasings_vary_and_keep_meaning():
    import random

    rng = random.Random(0)
    seen = {label_variant("location", rng, 1.0) for _ in range(50)}
    assert "location" not in seen and {"place", "geographic location"} <= seen
    assert label_variant("location", rng, 0.0) == "location"
    assert label_variant("zzz unknown", rng, 1.0) == "zzz unknown"
    desc = {"country": "sovereign state of this item (not to be used for human beings)"}
    assert relation_variant("country", desc, rng, 1.0).startswith("country: sovereign state")
    assert relation_variant("other", desc, rng, 1.0) == "other"
