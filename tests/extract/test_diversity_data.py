"""Readers of the round-2 label-diversity datasets, each on a slice of the real files,
and the helpers beside them: label descriptions, direction, the distractor pools."""

import json
import random
import re
from pathlib import Path

import pytest

from kgbuild.extract.model.encoding import SHAPE_PAD, TextEncoder
from kgbuild.extract.training.data import (
    AlignmentStats,
    Example,
    _words_of,
    read_webnlg,
)
from kgbuild.extract.training.datasets import read_dataset
from kgbuild.extract.training.diversity_data import (
    BIOMEDICAL_ENTITY_TYPES,
    MULTICONER_PHRASES,
    SEMEVAL_RELATIONS,
    label_descriptions,
    looks_biomedical,
    pile_ner_definitions,
    read_fewrel_relations,
    read_multiconer,
    read_pile_ner,
    read_rebel,
    read_semeval,
    semeval_relation,
)
from kgbuild.extract.training.label_names import (
    add_inverse_relations,
    dataset_label_names,
    inverse_of,
    inverse_relation,
)


def _text(ex: Example, mention: int) -> str:
    s, e, _ = ex.entities[mention]
    return " ".join(ex.words[s:e])


def _cluster_text(ex: Example, cluster: int) -> str:
    return _text(ex, ex.get_clusters()[cluster][0])


def _head_tail_names(ex: Example) -> set[tuple[str, str, str]]:
    return {(_cluster_text(ex, h), _cluster_text(ex, t), r) for h, t, r in ex.relations}


def _lines_slice(src: Path, dst: Path, n: int) -> Path:
    with src.open(encoding="utf-8") as f:
        dst.write_text("".join(next(f) for _ in range(n)), encoding="utf-8")
    return dst


# --------------------------------------------------------------------------- MultiCoNER


@pytest.fixture
def multiconer_slice(datasets, tmp_path) -> Path:
    """The first 300 lines of MultiCoNER's English dev file, cut at a sentence end."""
    lines = (datasets / "multiconer2-en/en-dev.conll").read_text(encoding="utf-8").splitlines()
    cut = [i for i, x in enumerate(lines[:300]) if not x.strip()][-1]
    path = tmp_path / "en-dev-slice.conll"
    path.write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")
    return path


def test_multiconer_sentences_types_and_parents(multiconer_slice):
    raw = multiconer_slice.read_text(encoding="utf-8").splitlines()
    examples = read_multiconer(multiconer_slice)
    assert len(examples) == sum(x.startswith("# id ") for x in raw)
    # every B- tag is one mention of its fine type (counted on the raw lines)
    fine = {p for p in MULTICONER_PHRASES.values()}
    b_tags = [x.split()[-1][2:] for x in raw if x.split() and x.split()[-1].startswith("B-")]
    assert sum(len(ex.get_clusters()) for ex in examples) == len(b_tags)
    # "eli lilly founder president of pharmaceutical company eli lilly and company"
    first = examples[0]
    assert first.words[:3] == ["eli", "lilly", "founder"]
    assert (0, 2, "person") in first.entities  # OtherPER reads as its coarse type
    assert (7, 11, "public company") in first.entities
    assert (7, 11, "organization") in first.entities  # and a public company is an organization
    assert [_text(first, m) for m in first.get_clusters()[1]] == ["eli lilly and company"] * 2
    for ex in examples:
        assert ex.uncased_text  # lower-cased text: training hides its word shapes
        assert all(w == w.lower() for w in ex.words)
        for s, e, label in ex.entities:
            assert 0 <= s < e <= len(ex.words)
            assert label == label.lower() and not re.search(r"[A-Z]", label)
    labels = examples[0].entity_labels
    assert len(labels) == 29 and fine <= set(labels)


def test_multiconer_unknown_tag_is_named(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("# id x\tdomain=en\nfoo _ _ B-Disease\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Disease"):
        read_multiconer(path)


def test_uncased_examples_reach_the_model_without_word_shapes(multiconer_slice, tokenizer):
    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.sampling import LabelPools, build_instance

    cfg = TrainConfig(train=[])
    pools = LabelPools(entity=[], relation=[], relation_descriptions={})
    encoder = TextEncoder(tokenizer, max_length=128)
    ex = read_multiconer(multiconer_slice)[0]
    uncased = build_instance(ex, encoder, 12, random.Random(0), cfg, pools)
    assert set(uncased.encoded.shape_ids) == {SHAPE_PAD}
    # lower-cased text is read without shapes whether or not its reader marks it
    ex.uncased_text = False
    unmarked = build_instance(ex, encoder, 12, random.Random(0), cfg, pools)
    assert set(unmarked.encoded.shape_ids) == {SHAPE_PAD}


def test_lowercase_prob_reads_cased_text_as_search_queries_are_written(datasets, tokenizer):
    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.data import read_spert
    from kgbuild.extract.training.sampling import LabelPools, build_instance

    ex = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[0]
    pools = LabelPools(entity=[], relation=[], relation_descriptions={})
    encoder = TextEncoder(tokenizer, max_length=256)
    cased = build_instance(ex, encoder, 12, random.Random(0), TrainConfig(train=[]), pools)
    assert set(cased.encoded.shape_ids) - {SHAPE_PAD}
    cfg = TrainConfig(train=[], lowercase_prob=1.0)
    lowered = build_instance(ex, encoder, 12, random.Random(0), cfg, pools)
    assert set(lowered.encoded.shape_ids) == {SHAPE_PAD}
    # the same tokens (the encoder is uncased) and the same gold spans
    assert lowered.encoded.input_ids == cased.encoded.input_ids
    assert lowered.entity_targets == cased.entity_targets


# --------------------------------------------------------------------------- FewRel NYT


def test_fewrel_nyt_heads_and_names(datasets, tmp_path):
    data = json.loads((datasets / "fewrel-extra/val_nyt.json").read_text(encoding="utf-8"))
    part = {k: data[k][:5] for k in ["P40", "P749", "P50"]}
    path = tmp_path / "nyt-slice.json"
    path.write_text(json.dumps(part), encoding="utf-8")
    stats = AlignmentStats()
    examples = read_fewrel_relations(
        path, datasets / "wikidata-properties/pid2name_fewrel.json", stats=stats
    )
    assert len(examples) == 15 and stats.dropped_triples == 0
    assert examples[0].relation_labels == ["author", "child", "parent organization"]
    items = [x for k in part for x in part[k]]
    for ex, item in zip(examples, items, strict=True):
        # FewRel's h is the head and t the tail, each mention placed on its words
        ((h, t, _),) = ex.relations
        assert (h, t) == (0, 1)
        assert _cluster_text(ex, 0).replace(" ", "") == item["h"][0].replace(" ", "")
        assert _cluster_text(ex, 1).replace(" ", "") == item["t"][0].replace(" ", "")
        assert ex.entity_labels == []  # untyped: no entity loss
    # Wikidata's direction: "child" has the parent as head
    murdoch = next(ex for ex in examples if ex.relations[0][2] == "child" and "Murdoch" in ex.words)
    rel = _head_tail_names(murdoch)
    assert rel == {("Rupert Murdoch", "James Murdoch", "child")}
    add_inverse_relations([murdoch])
    assert ("James Murdoch", "Rupert Murdoch", "child of") in _head_tail_names(murdoch)
    assert "child of" in murdoch.relation_labels


# --------------------------------------------------------------------------- SemEval


@pytest.fixture
def semeval_slice(datasets, tmp_path) -> Path:
    data = json.loads((datasets / "fewrel-extra/val_semeval.json").read_text(encoding="utf-8"))
    part = {k: data[k][:6] for k in ["Cause-Effect(e2,e1)", "Cause-Effect(e1,e2)"]}
    path = tmp_path / "semeval-slice.json"
    path.write_text(json.dumps(part), encoding="utf-8")
    return path


def test_semeval_directed_labels_become_head_and_tail(semeval_slice):
    examples = read_semeval(semeval_slice)
    assert len(examples) == 12
    rels = [_head_tail_names(ex) for ex in examples]
    # Cause-Effect(e2,e1): "calluses are caused by ... a skin abnormality": e2 is the cause
    assert {
        ("skin abnormality", "calluses", "cause of"),
        ("calluses", "skin abnormality", "caused by"),
    } in rels
    # Cause-Effect(e1,e2): "the women that caused the accident": e1 is the cause
    assert {("women", "accident", "cause of"), ("accident", "women", "caused by")} in rels
    for ex in examples:
        assert ex.uncased_text
        assert len(ex.relations) == 2  # the relation and its inverse, nothing else
        assert ex.relation_labels == ["cause of", "caused by"]
        (fwd,) = [r for r in ex.relations if r[2] == "cause of"]
        assert inverse_of(fwd) in ex.relations


def test_semeval_without_inverses(semeval_slice):
    examples = read_semeval(semeval_slice, inverses=False)
    assert all(len(ex.relations) == 1 for ex in examples)
    assert examples[0].relation_labels == ["cause of"]


def test_semeval_label_parsing():
    assert semeval_relation("Cause-Effect(e1,e2)") == ("cause of", False)
    assert semeval_relation("Product-Producer(e2,e1)") == ("produced by", True)
    for bad in ["Other", "Cause-Effect(e1,e1)", "Foo-Bar(e1,e2)"]:
        with pytest.raises(ValueError, match=re.escape(bad)):
            semeval_relation(bad)


# --------------------------------------------------------------------------- REBEL


def test_rebel_slice(datasets, tmp_path):
    path = _lines_slice(datasets / "rebel-sample/sample.jsonl", tmp_path / "rebel.jsonl", 30)
    docs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    stats = AlignmentStats()
    examples = read_rebel(
        path, datasets / "wikidata-properties/all_wikidata_properties.json", stats=stats
    )
    assert stats.dropped_texts + len(examples) <= len(docs)
    # every triple of a kept document was tried
    assert stats.triples == sum(len(d["triples"]) for d in docs if not looks_biomedical(d["text"]))
    # each placed triple is a relation; a triple repeated at other boundaries counts once
    distinct = {
        (d["docid"], t["subject"]["uri"], t["predicate"]["uri"], t["object"]["uri"])
        for d in docs
        if not looks_biomedical(d["text"])
        for t in d["triples"]
    }
    placed = sum(len(ex.relations) for ex in examples)
    assert len(distinct) - stats.dropped_triples <= placed <= stats.triples - stats.dropped_triples
    first = examples[0]  # "Transportation Journal ... published ... by the Penn State ..."
    assert " ".join(first.words).startswith("Transportation Journal is an academic journal")
    assert ("Transportation Journal", "Penn State University Press", "publisher") in (
        _head_tail_names(first)
    )
    # every mention is the surface form of a linked entity of its document
    for ex in examples:
        (doc,) = [d for d in docs if _words_of(d["text"])[0] == ex.words]
        forms = {m["surfaceform"].replace(" ", "") for m in doc["entities"]}
        assert all(_text(ex, m).replace(" ", "") in forms for m in range(len(ex.entities)))
        assert ex.relation_labels == sorted({r for *_, r in ex.relations})
    # the Institute for Space Applications abstract has shifted boundaries: repaired
    shifted = docs[19]
    assert any(
        shifted["text"][e["boundaries"][0] : e["boundaries"][1]] != e["surfaceform"]
        for e in shifted["entities"]
    )
    ex = next(e for e in examples if " ".join(e.words).startswith("The Institute for Space"))
    placed = {_text(ex, m).replace(" ", "") for m in range(len(ex.entities))}
    assert {"NationalObservatoryofAthens", "Earthobservation", "2012"} <= placed
    ((h, t, name),) = ex.relations
    assert _cluster_text(ex, h).startswith("Institute for Astronomy")
    assert (_cluster_text(ex, t), name) == ("2012", "inception")


def test_rebel_leaves_biomedical_abstracts_out(datasets, tmp_path):
    lines = (datasets / "rebel-sample/sample.jsonl").read_text(encoding="utf-8").splitlines()
    dpm2 = next(x for x in lines if json.loads(x)["title"] == "DPM2")  # "encodes" a protein
    path = tmp_path / "bio.jsonl"
    path.write_text(lines[0] + "\n" + dpm2 + "\n", encoding="utf-8")
    props = datasets / "wikidata-properties/all_wikidata_properties.json"
    stats = AlignmentStats()
    assert len(read_rebel(path, props, stats=stats)) == 1 and stats.dropped_texts == 1
    assert len(read_rebel(path, props, drop_biomedical=False)) == 2


# --------------------------------------------------------------------------- Pile-NER


def test_pile_ner_slice(datasets, tmp_path):
    path = _lines_slice(
        datasets / "pile-ner-slimer/validation_truedef.jsonl", tmp_path / "pile.jsonl", 40
    )
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    stats = AlignmentStats()
    examples = read_pile_ner(path, stats=stats)
    kept = list(dict.fromkeys(r["input"] for r in rows if not looks_biomedical(r["input"])))
    assert len(examples) == len(kept)
    assert stats.dropped_texts == len({r["input"] for r in rows}) - len(kept)
    asked: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        asked.setdefault(r["input"], {})[r["tagName"]] = json.loads(r["output"])
    for ex, passage in zip(examples, kept, strict=True):
        # asked for exactly the types of its pairs (an empty answer is a negative type)
        assert ex.entity_labels == list(asked[passage])
        for m, (_, _, label) in enumerate(ex.entities):
            # a mention is one of the strings listed for its type (words split apart)
            found = _text(ex, m).replace(" ", "").lower()
            assert found in {x.replace(" ", "").lower() for x in asked[passage][label]}
    # pair 0: "map-stream" is a name in the package.json passage
    first = examples[0]
    assert first.entity_labels == ["name"]
    assert {_text(first, m) for m in range(len(first.entities))} == {"map-stream"}
    # pair 2: "First Man" is a film; each listed string is found wherever it occurs
    film = next(ex for ex in examples if ex.entity_labels == ["film"])
    assert [_text(film, m) for m in range(len(film.entities))] == ["First Man"]
    # a type asked with an empty answer is a negative: asked, no mention
    town = next(ex for ex in examples if ex.entity_labels == ["town"])
    assert town.entities == []
    assert stats.dropped_mentions <= 0.05 * stats.mentions


def test_biomedical_filter_on_real_passages(datasets):
    rows = [
        json.loads(x)
        for x in (datasets / "pile-ner-slimer/validation_truedef.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    text = {r["input"][:40]: r["input"] for r in rows}

    def passage(start: str) -> str:
        return next(v for k, v in text.items() if k.startswith(start))

    assert looks_biomedical(passage("Tracheal gas insufflation"))
    assert looks_biomedical(passage("Sex-related differences in baseline"))
    assert not looks_biomedical(passage('{\n  "name": "map-stream"'))
    assert not looks_biomedical(passage("Damien Chazelle"))
    assert not looks_biomedical(passage("NHL Lightning Devils Preview"))
    # no pair of a biomedical type survives
    examples = read_pile_ner(datasets / "pile-ner-slimer/validation_truedef.jsonl")
    assert not {x for ex in examples for x in ex.entity_labels} & BIOMEDICAL_ENTITY_TYPES


# --------------------------------------------------------------------------- descriptions


def test_label_descriptions(datasets):
    d = label_descriptions(datasets)
    assert "founder" in d.relations["founded by"].lower()
    assert d.relations["cause of"] == SEMEVAL_RELATIONS["Cause-Effect"][2]
    assert "individuals" in d.entities["person"]
    # a definition cut off in the source file is still read up to its end
    assert d.entities["event"].startswith("'event' refers to occurrences")
    assert not set(d.entities) & BIOMEDICAL_ENTITY_TYPES
    assert len(d.entities) == len(
        pile_ner_definitions(datasets / "pile-ner-slimer/ne_definitions.json")
    )
    # the names the readers produce have descriptions
    nyt = read_fewrel_relations(
        datasets / "fewrel-extra/val_nyt.json",
        datasets / "wikidata-properties/pid2name_fewrel.json",
    )
    assert {r for ex in nyt for *_, r in ex.relations} <= set(d.relations)


# --------------------------------------------------------------------------- direction


@pytest.mark.parametrize(
    ("name", "inverse"),
    [
        ("founded by", "founder of"),
        ("founder of", "founded by"),
        ("created by", "creator of"),
        ("creator of", "created by"),
        ("creator", "creator of"),
        ("chief executive officer", "chief executive of"),
        ("Cause of", "caused by"),
        ("spouse", "spouse"),
    ],
)
def test_inverse_relation(name, inverse):
    assert inverse_relation(name) == inverse


def test_inverse_relation_unknown_and_semeval_round_trip():
    assert inverse_relation("date of birth") is None
    assert inverse_of((0, 1, "date of birth")) is None
    assert inverse_of((0, 1, "founded by")) == (1, 0, "founder of")
    for forward, inverse, *_ in SEMEVAL_RELATIONS.values():
        assert inverse_relation(forward) == inverse
        assert inverse_relation(inverse) == forward


def test_add_inverse_relations():
    ex = Example(
        words="Ann founded Acme ; Ann married Bob".split(),
        entities=[(0, 1, "person"), (2, 3, "organization"), (6, 7, "person")],
        relations=[(1, 0, "founded by"), (0, 2, "spouse")],
        entity_labels=["person", "organization"],
        relation_labels=["founded by", "spouse", "date of birth"],
    )
    added = add_inverse_relations([ex])
    assert added == {"founder of": 1}
    assert ex.relations == sorted([(1, 0, "founded by"), (0, 2, "spouse"), (0, 1, "founder of")])
    assert ex.relation_labels == ["founded by", "spouse", "date of birth", "founder of"]
    assert ex.symmetric == {"spouse"}  # both directions are counted, no copy needed
    assert add_inverse_relations([ex]) == {}  # running it again adds nothing


# --------------------------------------------------------------------------- pools and config


def test_pools_read_every_examples_names(datasets):
    from kgbuild.extract.training.config import TrainConfig
    from kgbuild.extract.training.sampling import build_pools

    examples = read_webnlg(datasets / "webnlg/en/train/3triples")
    late = {r for ex in examples[50:] for r in ex.relation_labels} - {
        r for ex in examples[:50] for r in ex.relation_labels
    }
    assert late  # names that the first 50 examples never show
    cfg = TrainConfig(train=[], fewrel_dir=None, relation_pool=None)
    pools = build_pools(cfg, {"webnlg": examples})
    assert late <= set(pools.relation)
    assert {r for ex in examples for *_, r in ex.relations} <= set(pools.relation)
    entity, relation = dataset_label_names(examples)
    assert set(relation) == {r for ex in examples for r in ex.relation_labels}
    assert len(relation) == len(set(relation))


def test_round2_formats_in_training_config(datasets):
    semeval = read_dataset(
        {"format": "semeval", "path": "fewrel-extra/val_semeval.json", "limit": 5}, datasets
    )
    assert len(semeval) == 5 and all(len(ex.relations) == 2 for ex in semeval)
    assert len(semeval[0].relation_labels) == 18  # 9 classes, each read both ways
    nyt = read_dataset(
        {"format": "fewrel", "path": "fewrel-extra/val_nyt.json", "inverses": True}, datasets
    )
    assert any(r == "has subsidiary" for ex in nyt for *_, r in ex.relations)
    mc = read_dataset(
        {"format": "multiconer", "path": "multiconer2-en/en-dev.conll", "skip": 800}, datasets
    )
    assert len(mc) == 6
    with pytest.raises(ValueError, match="'nope'"):
        read_dataset({"format": "nope", "path": "rebel-sample/sample.jsonl"}, datasets)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_dataset({"format": "rebel", "path": "rebel-sample/missing.jsonl"}, datasets)
