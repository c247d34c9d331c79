"""Training works on CPU in a few steps, and checkpoints round-trip exactly."""

import json
import os
import random
from pathlib import Path

import pytest
import torch

from kgbuild.extract.inference.extractor import JointExtractor
from kgbuild.extract.model.config import ExtractorConfig
from kgbuild.extract.model.encoding import TextEncoder
from kgbuild.extract.model.network import JointExtractionModel
from kgbuild.extract.training.config import TrainConfig, training_threads
from kgbuild.extract.training.data import read_spert
from kgbuild.extract.training.loop import train
from kgbuild.extract.training.losses import batch_loss
from kgbuild.extract.training.sampling import LabelPools, build_instance


def test_loss_goes_down_on_a_few_sentences(datasets, tokenizer):
    torch.manual_seed(0)
    examples = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:6]
    cfg = TrainConfig(
        train=[], model=ExtractorConfig(max_length=128), max_distractors=0, drop_negative_prob=0.0
    )
    model = JointExtractionModel.from_base_encoder(cfg.model)
    encoder = TextEncoder(tokenizer, max_length=128)
    rng = random.Random(0)
    items = [
        build_instance(ex, encoder, cfg.model.max_width, rng, cfg, LabelPools([], [], {}))
        for ex in examples
    ]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    losses = []
    for _ in range(12):
        loss, _, _ = batch_loss(model, items, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_train_command_smoke_and_round_trip(datasets, tmp_path):
    config = {
        "model": {"name": "smoke", "max_length": 96},
        "data_root": str(datasets),
        "output_dir": str(tmp_path / "run"),
        "epochs": 1,
        "train": [
            {
                "name": "c",
                "format": "spert",
                "path": "conll04/conll04_train.json",
                "types": "conll04/conll04_types.json",
                "limit": 8,
            }
        ],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    out = train(path, max_steps=2)
    assert (out / "config.json").is_file() and (out / "README.md").is_file()
    assert (tmp_path / "run/checkpoint/state.pt").is_file()
    a = JointExtractor.from_pretrained(out)
    b = JointExtractor.from_pretrained(out)
    texts = ["Alice Smith works for Acme Corp in Paris .", "Bob lives in Rome ."]
    kw = {"entity_threshold": 0.0, "relation_threshold": 0.0}
    ra = a.extract(texts, ["person", "organization"], ["works for"], **kw)
    rb = b.extract(texts, ["person", "organization"], ["works for"], **kw)
    assert [x.model_dump() for x in ra] == [x.model_dump() for x in rb]
    assert ra[0].entities, "threshold 0 must return spans"
    # resuming from the checkpoint continues instead of starting over
    out2 = train(path, max_steps=2)
    assert out2 == out


def test_offsets_are_exact_and_label_passes_merge(tmp_path, datasets):
    cfg = ExtractorConfig(name="tiny", max_length=48)
    model = JointExtractionModel.from_base_encoder(cfg)
    model.save_pretrained(tmp_path / "m")
    ex = JointExtractor.from_pretrained(tmp_path / "m")
    text = "Zoë Ünal, CEO of 株式会社 Ötzi 🎉, lives in Köln.\r\nShe founded Ötzi."
    many = [f"entity type number {i}" for i in range(12)]
    passes = ex.label_passes(many, ["works for", "lives in"])
    assert len(passes) > 1  # too many labels for one window
    assert sorted(x for e, _ in passes for x in e) == sorted(many)
    out = ex.extract(
        [text], many, ["works for", "lives in"], entity_threshold=0.0, relation_threshold=0.0
    )[0]
    assert out.entities
    for e in out.entities:
        assert text[e.start : e.end] == e.text
        assert e.label in many
    spans = [(e.start, e.end) for e in out.entities]
    assert all(
        a_end <= b_start
        for (_, a_end), (b_start, _) in zip(sorted(spans), sorted(spans)[1:], strict=False)
    )


def test_multi_stage_recipe_trains_the_earlier_stage_first(datasets, tmp_path):
    data = [
        {
            "name": "w",
            "format": "webnlg",
            "path": "webnlg/en/train/1triples/Airport.xml",
            "limit": 6,
            "silver": False,
        }
    ]
    first = {
        "model": {"name": "stage1", "max_length": 96},
        "data_root": str(datasets),
        "output_dir": str(tmp_path / "stage1"),
        "epochs": 1,
        "train": data,
    }
    second = dict(first, model={"name": "stage2", "max_length": 96},
                  output_dir=str(tmp_path / "stage2"),
                  init_from=str(tmp_path / "stage1/model"),
                  init_config=str(tmp_path / "first.json"))  # fmt: skip
    (tmp_path / "first.json").write_text(json.dumps(first))
    (tmp_path / "second.json").write_text(json.dumps(second))
    out = train(tmp_path / "second.json", max_steps=1)
    assert (tmp_path / "stage1/model/config.json").is_file()
    assert json.loads((out / "config.json").read_text())["name"] == "stage2"
    broken = dict(second, init_config=None, init_from=str(tmp_path / "missing"))
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(FileNotFoundError, match="init_from"):
        train(tmp_path / "broken.json", max_steps=1)


def test_a_run_in_sittings_ends_where_an_uninterrupted_one_ends(datasets, tmp_path):
    # --max-minutes 0 ends each sitting after one step; each call goes on from the
    # checkpoint (optimizer, schedule, random states, the place in the epoch)
    def config(name: str) -> Path:
        data = {
            "model": {"name": "sittings", "max_length": 96},
            "data_root": str(datasets),
            "output_dir": str(tmp_path / name),
            "epochs": 1,
            "max_sentences": 2,
            "checkpoint_every": 0,
            "train": [
                {
                    "name": "c",
                    "format": "spert",
                    "path": "conll04/conll04_train.json",
                    "types": "conll04/conll04_types.json",
                    "limit": 6,
                }
            ],
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        return path

    whole = train(config("whole"))
    sittings = []
    out = None
    while out is None:
        out = train(config("sittings"), max_minutes=0)
        sittings.append(out)
    assert len(sittings) == 3  # three batches: two sittings ended early, the third finished
    a = JointExtractionModel.from_pretrained(whole).state_dict()
    b = JointExtractionModel.from_pretrained(out).state_dict()
    for name, value in a.items():
        assert torch.equal(value, b[name]), name
    history = json.loads((out / "training.json").read_text())["history"]
    assert history == [
        {**h, "seconds": history[0]["seconds"]}
        for h in json.loads((whole / "training.json").read_text())["history"]
    ]


def test_training_threads_follow_the_config_then_omp_num_threads(monkeypatch):
    cfg = TrainConfig(train=[])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert training_threads(cfg) == 1
    assert training_threads(cfg.model_copy(update={"num_threads": 3})) == 3
    for unset in ("", "0", "many"):
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert training_threads(cfg) == (os.cpu_count() or 1)
