"""Every training recipe in configs/ is valid, reads data that exists, and states the
licences of its data; the permissive recipe reads only permissive data."""

import json
from pathlib import Path

import pytest

from kgbuild.extract.training.config import TrainConfig
from kgbuild.extract.training.licences import LICENCES, dataset_licences, licence_table

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("extractor*.json"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_recipe_is_valid_and_its_data_exists(path, datasets):
    cfg = TrainConfig.model_validate_json(path.read_text())
    for spec in [*cfg.train, *cfg.dev]:
        # "./" paths are the project's own data, read from the repository root
        where = path.parents[1] / spec.path if spec.path.startswith("./") else datasets / spec.path
        assert where.exists(), f"{path.name}: {spec.path}"
    for spec in cfg.train:
        assert dataset_licences(spec.model_dump())  # raises for data of unknown licence
    if cfg.init_config:
        assert (path.parents[1] / cfg.init_config).is_file()


def test_permissive_recipe_reads_only_permissive_data():
    path = next(p for p in CONFIGS if p.name == "extractor-permissive.json")
    train = json.loads(path.read_text())["train"]
    assert all(lic.permissive for spec in train for lic in dataset_licences(spec))
    assert licence_table(train)[-1].startswith("All training data")


def test_licence_lookup():
    assert dataset_licences({"path": "webnlg/en/train"})[0].licence == "CC BY-NC-SA 4.0"
    assert not dataset_licences({"path": "fewrel-extra/val_nyt.json"})[0].permissive
    assert dataset_licences({"path": "fewrel/val_wiki.json"})[0].permissive
    re3d = dataset_licences({"path": "re3d", "sources": ["CENTCOM", "BBC Online"]})
    assert [x.permissive for x in re3d] == [True, False]
    assert len(dataset_licences({"path": "re3d"})) == sum(k.startswith("re3d/") for k in LICENCES)
    with pytest.raises(KeyError, match="private/corpus"):
        dataset_licences({"path": "private/corpus.json"})
    shipped = licence_table([{"path": "conll04/x.json"}, {"path": "ner-extra/WNUT17/a.conll"}])
    assert "| CoNLL04 | research use (no licence stated) | check terms |" in shipped
    assert "check those terms" in shipped[-1]


def test_plain_triples_reader(tmp_path):
    from kgbuild.extract.training.datasets import read_dataset

    root = Path(__file__).resolve().parents[2]
    bench = read_dataset(
        {"format": "triples", "path": str(root / "benchmarks/data/everyday_relations.jsonl")}, root
    )
    assert len(bench) == 20
    first = bench[0]
    assert [" ".join(first.words[s:e]) for s, e, _ in first.entities] == [
        "Satya Nadella", "Microsoft", "Redmond"
    ]  # fmt: skip
    assert first.relations == [(0, 1, "chief executive of"), (1, 2, "headquartered in")]
    assert first.relation_labels == ["chief executive of", "headquartered in"]
    bad = tmp_path / "bad.jsonl"
    row = {"text": "Ada met Bob.", "entity_types": ["person"], "relation_types": ["met"],
           "entities": [["Ada", "person"], ["Bo", "person"]], "relations": []}  # fmt: skip
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: entity 'Bo'"):
        read_dataset({"format": "triples", "path": str(bad)}, tmp_path)


def test_seen_relation_names_leave_held_out_names_out(datasets):
    from kgbuild.extract.training.thresholds import seen_relation_names

    cfg = TrainConfig(
        data_root=str(datasets),
        train=[{"name": "conll04", "format": "spert", "path": "conll04/conll04_dev.json",
                "types": "conll04/conll04_types.json"}],
        exclude_relations=["kill"],
    )  # fmt: skip
    names = seen_relation_names(cfg)
    assert "work for" in names and "located in" in names
    assert "kill" not in names
