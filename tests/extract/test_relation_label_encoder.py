"""Relation labels embedded apart from the text: a large schema costs one text pass.

A checkpoint with a relation-label adapter (``kgbuild train`` with ``stage:
relation_label_encoder``) can embed relation labels once per schema, in passes of
their own, and read each text once with its entity labels. These tests check that the
mode is chosen only where it pays, that its outputs are those of the plain computation
(``reference_inference``), that the adapter stage trains nothing but the adapter, and
that it learns.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from reference_inference import ReferenceExtractor
from test_fast_inference import assert_same_extractions

from kgbuild.extract.data import read_spert
from kgbuild.extract.encoding import TextEncoder
from kgbuild.extract.extractor import JointExtractor
from kgbuild.extract.model import ExtractorConfig, JointExtractionModel
from kgbuild.extract.train import (
    LabelPools,
    TrainConfig,
    build_instance,
    relation_label_encoder_loss,
    train,
)

TEXTS = [
    "Anna Weber works for Northwind Robotics in Berlin. She met Hiro Tanaka in Osaka.",
    "Bluepeak Energy was founded by Mateo Rossi in Lisbon, where Rosa Xu lives.",
]
ENTITIES = ["person", "organization", "city"]
MANY_RELATIONS = [f"relation kind number {i}" for i in range(40)] + ["works for", "lives in"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A small untrained model whose separate-mode parts have non-zero weights (as trained
    ones would)."""
    torch.manual_seed(3)
    model = JointExtractionModel.from_base_encoder(ExtractorConfig(name="tiny", max_length=128))
    model.add_relation_label_adapter(lora_rank=4)
    model.add_relation_label_context()
    model.add_relation_label_fusion(1)
    with torch.no_grad():
        for param in model.relation_label_adapter.parameters():
            param.normal_(0.0, 0.05)
        for update in model.separate_lora.values():
            update.b.normal_(0.0, 0.02)
        model.relation_label_attention.out_proj.weight.normal_(0.0, 0.05)
        for layer in model.relation_label_fusion.layers:
            layer.linear2.weight.normal_(0.0, 0.05)
            layer.multihead_attn.out_proj.weight.normal_(0.0, 0.05)
    directory = tmp_path_factory.mktemp("tiny") / "model"
    model.save_pretrained(directory)
    return directory


def _extractors(directory: Path, mode: str) -> tuple[JointExtractor, ReferenceExtractor]:
    new = JointExtractor.from_pretrained(directory, backend="torch", relation_label_mode=mode)
    old = ReferenceExtractor(
        new.model, new.encoder.tokenizer, model_id=new.model_id, relation_label_mode=mode
    )
    return new, old


def _batch(tokenizer, model):
    encoder = TextEncoder(tokenizer, max_length=model.config.max_length)
    text = TEXTS[0]
    from kgbuild.extract.encoding import split_words
    from kgbuild.extract.model import collate

    return collate([encoder.encode(text, split_words(text), ENTITIES, ["works for"])])


def test_untrained_separate_parts_change_nothing(tokenizer):
    torch.manual_seed(0)
    model = JointExtractionModel.from_base_encoder(ExtractorConfig(max_length=64)).eval()
    model.add_relation_label_adapter(lora_rank=4)
    model.add_relation_label_context()
    model.add_relation_label_fusion(2)
    hidden = torch.randn(2, 10, model.encoder.config.hidden_size)
    positions = torch.tensor([[1, 4, -1], [2, 3, 5]])
    joint = model.label_embeddings(hidden, positions, model.relation_label_proj)
    states = model.marker_states(hidden, positions)
    text = torch.randn(2, 7, hidden.size(-1))
    separate = model.separate_relation_vectors(states, text, torch.ones(2, 7, dtype=torch.long))
    assert torch.equal(separate, joint)
    batch = _batch(tokenizer, model)
    with torch.no_grad(), model.separate_encoding():
        separate = model.encode(batch)
    assert torch.equal(separate, model.encode(batch).detach())


@torch.no_grad()
def test_the_encoder_update_applies_only_inside_separate_encoding(tiny, tokenizer):
    model = JointExtractionModel.from_pretrained(tiny)
    batch = _batch(tokenizer, model)
    plain = model.encode(batch)
    with model.separate_encoding():
        separate = model.encode(batch)
        with model.separate_encoding(False):  # nested: off again, then back on
            assert torch.equal(model.encode(batch), plain)
        assert torch.equal(model.encode(batch), separate)
    assert (separate - plain).abs().max() > 1e-3  # the update does something
    assert torch.equal(model.encode(batch), plain)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with model.merged_separate_weights():  # what the ONNX export of the mode sees
        merged = model.encode(batch)
    torch.testing.assert_close(merged, separate, atol=1e-4, rtol=1e-4)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def test_checkpoint_keeps_the_adapter(tiny):
    model = JointExtractionModel.from_pretrained(tiny)
    assert model.config.relation_label_encoder
    from safetensors.torch import load_file

    state = load_file(str(tiny / "model.safetensors"))
    adapter = {
        k: v
        for k, v in state.items()
        if k.startswith(
            (
                "relation_label_adapter.",
                "separate_lora.",
                "relation_label_attention.",
                "relation_label_fusion.",
            )
        )
    }
    # MLP; A and B for 6 layers x 6 linear layers; attention in and out weights and biases;
    # one decoder layer (two attentions, feed-forward, three norms)
    assert len(adapter) == 4 + 2 * 36 + 4 + 18
    assert model.config.separate_lora_rank == 4 and model.config.relation_label_context
    assert model.config.relation_label_fusion_layers == 1
    for name, value in adapter.items():
        assert torch.equal(model.state_dict()[name], value.float()), name


def test_modes_are_checked(tiny, tmp_path):
    with pytest.raises(ValueError, match="relation_label_mode"):
        JointExtractor.from_pretrained(tiny, backend="torch", relation_label_mode="apart")
    plain = JointExtractionModel.from_base_encoder(ExtractorConfig(name="plain", max_length=96))
    plain.save_pretrained(tmp_path / "plain")
    with pytest.raises(ValueError, match="relation-label adapter"):
        JointExtractor.from_pretrained(
            tmp_path / "plain", backend="torch", relation_label_mode="separate"
        )
    # auto on a checkpoint without the adapter never embeds labels apart
    auto = JointExtractor.from_pretrained(
        tmp_path / "plain", backend="torch", relation_label_mode="auto"
    )
    assert auto.relation_label_layout(ENTITIES, MANY_RELATIONS) != "separate"


def test_auto_is_the_default_and_the_environment_can_choose(tiny, monkeypatch):
    monkeypatch.delenv("KGBUILD_RELATION_LABELS", raising=False)
    default = JointExtractor.from_pretrained(tiny, backend="torch")
    assert default.relation_label_mode == "auto"
    assert default.relation_label_layout(ENTITIES, MANY_RELATIONS) == "hybrid"
    assert not default.separates_relation_labels(ENTITIES, MANY_RELATIONS)
    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "prompt")
    assert JointExtractor.from_pretrained(tiny, backend="torch").relation_label_mode == "prompt"
    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "sideways")
    with pytest.raises(ValueError, match="KGBUILD_RELATION_LABELS"):
        JointExtractor.from_pretrained(tiny, backend="torch")
    from kgbuild.extract import load_extractor

    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "separate")
    lazy = load_extractor(tiny, lazy=True, backend="torch")
    assert lazy.model_id == "tiny-separate"  # known before loading, and the loaded one's
    assert lazy.load().model_id == "tiny-separate"


def test_separate_reads_texts_with_their_entity_labels_only(tiny):
    separate = JointExtractor.from_pretrained(tiny, backend="torch", relation_label_mode="separate")
    prompt = JointExtractor.from_pretrained(tiny, backend="torch", relation_label_mode="prompt")
    auto = JointExtractor.from_pretrained(tiny, backend="torch", relation_label_mode="auto")
    small = ["works for", "lives in"]
    assert len(prompt.label_passes(ENTITIES, MANY_RELATIONS)) > 1
    for relations in (small, MANY_RELATIONS):
        assert separate.separates_relation_labels(ENTITIES, relations)
        assert separate.label_passes(ENTITIES, relations) == [(ENTITIES, [])]
    # the text gets the window the relation labels no longer take
    assert separate.max_text_tokens(ENTITIES, MANY_RELATIONS) > prompt.max_text_tokens(
        ENTITIES, MANY_RELATIONS
    )
    assert separate.model_id == "tiny-separate" and auto.model_id == prompt.model_id == "tiny"
    # auto never embeds them apart: it keeps the first group in the prompt (hybrid)
    assert not auto.separates_relation_labels(ENTITIES, MANY_RELATIONS)


def assert_layout_matches_the_plain_computation(tiny, layout: str, entity_count: int) -> list:
    """Extractions with relation labels outside the prompt (``layout``), over one text
    pass (3 entity labels) or several (60), equal the reference's; returns them."""
    entities = ENTITIES if entity_count == 3 else [*ENTITIES, *(f"thing {i}" for i in range(57))]
    new, old = _extractors(tiny, layout)
    passes = new.label_passes(entities, MANY_RELATIONS)
    assert all(not rels for _, rels in passes)
    assert (len(passes) > 1) == (entity_count == 60)
    kwargs = {"entity_threshold": 0.5, "relation_threshold": 0.5}
    got = new.extract(TEXTS, entities, MANY_RELATIONS, **kwargs)
    want = old.extract(TEXTS, entities, MANY_RELATIONS, **kwargs)
    assert_same_extractions(got, want)
    assert sum(len(x.relations) for x in got) > 10  # the comparison covers relations
    return got


@pytest.mark.parametrize("entity_count", [3, 60], ids=["one-text-pass", "entity-passes"])
def test_separate_labels_match_the_plain_computation(tiny, entity_count):
    got = assert_layout_matches_the_plain_computation(tiny, "separate", entity_count)
    assert {r.label for x in got for r in x.relations} <= set(MANY_RELATIONS)


@torch.no_grad()
def test_onnx_runtime_computes_what_torch_computes(tiny, tokenizer, tmp_path, monkeypatch):
    # (the tiny model's scores sit near 0.5, where decoding flips on rounding: compare
    # what the two backends compute; decoded outputs are compared on the shipped model)
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("KGBUILD_CACHE_DIR", str(tmp_path / "cache"))
    extractors = {
        backend: JointExtractor.from_pretrained(
            tiny, backend=backend, relation_label_mode="separate"
        )
        for backend in ("torch", "onnx")
    }
    batch = _batch(tokenizer, extractors["torch"].model)
    for layout in ("prompt", "separate"):
        torch_out, onnx_out = (
            x._forward(batch, True, True, layout=layout) for x in extractors.values()
        )
        for a, b in zip(torch_out, onnx_out, strict=True):
            torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        extractors["onnx"].relation_label_states(MANY_RELATIONS),
        extractors["torch"].relation_label_states(MANY_RELATIONS),
        atol=1e-4,
        rtol=1e-4,
    )
    graphs = sorted(p.name for p in (tmp_path / "cache/onnx").glob("*.onnx"))
    assert len(graphs) == 2 and graphs[0].endswith("-separate.onnx")  # joint + separate


def test_relation_label_states_are_computed_once_per_schema(tiny):
    new = JointExtractor.from_pretrained(tiny, backend="torch", relation_label_mode="separate")
    calls = []
    forward = new._forward

    def counting(batch, need_entities, need_relations, layout="prompt"):
        assert layout == "separate"  # every pass of this mode runs the encoder with its update
        calls.append(need_entities)
        return forward(batch, need_entities, need_relations, layout=layout)

    new._forward = counting
    first = new.extract(TEXTS, ENTITIES, MANY_RELATIONS)
    label_passes = calls.count(False)
    assert label_passes == len(new._label_groups(MANY_RELATIONS, new._prompt_budget() // 2)) > 1
    calls.clear()
    second = new.extract(TEXTS, ENTITIES, MANY_RELATIONS)
    assert calls and False not in calls  # texts only: the labels' vectors were kept
    assert_same_extractions(second, first, tolerance=0.0)


def _tiny_stage_config(datasets: Path, tmp_path: Path, init: Path) -> Path:
    config = {
        "model": {"name": "tiny-rl", "max_length": 128},
        "stage": "relation_label_encoder",
        "data_root": str(datasets),
        "output_dir": str(tmp_path / "run"),
        "epochs": 1,
        "lr_heads": 0.01,
        "init_from": str(init),
        "train": [
            {
                "name": "c",
                "format": "spert",
                "path": "conll04/conll04_train.json",
                "types": "conll04/conll04_types.json",
                "limit": 12,
            }
        ],
    }
    path = tmp_path / "stage.json"
    path.write_text(json.dumps(config))
    return path


def test_adapter_stage_trains_the_adapter_only(datasets, tmp_path):
    torch.manual_seed(1)
    base = JointExtractionModel.from_base_encoder(ExtractorConfig(name="base", max_length=128))
    base.config.entity_threshold = 0.3
    base.save_pretrained(tmp_path / "base")
    out = train(_tiny_stage_config(datasets, tmp_path, tmp_path / "base"), max_steps=3)
    before = JointExtractionModel.from_pretrained(tmp_path / "base").state_dict()
    model = JointExtractionModel.from_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    assert config["relation_label_encoder"] is True
    assert config["entity_threshold"] == 0.3  # the joint model's settings are kept
    after = model.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), name
    assert after["relation_label_adapter.3.weight"].abs().sum() > 0  # it learned something
    lora_b = [v for k, v in after.items() if k.startswith("separate_lora.") and k.endswith(".b")]
    assert len(lora_b) == 36 and all(b.abs().sum() > 0 for b in lora_b)
    # the joint layout gives exactly what the model it started from gave
    kwargs = {"entity_threshold": 0.5, "relation_threshold": 0.5}
    plain = JointExtractor.from_pretrained(tmp_path / "base", backend="torch")
    trained = JointExtractor.from_pretrained(out, backend="torch", relation_label_mode="prompt")
    assert_same_extractions(
        trained.extract(TEXTS, ENTITIES, ["works for"], **kwargs),
        plain.extract(TEXTS, ENTITIES, ["works for"], **kwargs),
        tolerance=0.0,
    )


def test_adapter_loss_goes_down(datasets, tokenizer):
    torch.manual_seed(0)
    examples = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:8]
    cfg = TrainConfig(train=[], model=ExtractorConfig(max_length=128), max_distractors=0)
    cfg.stage = "relation_label_encoder"
    cfg.vector_distill_weight = 0.5  # the label vectors' own distillation term too
    model = JointExtractionModel.from_base_encoder(cfg.model).eval()
    model.add_relation_label_adapter(lora_rank=8)
    model.add_relation_label_fusion(1)
    encoder = TextEncoder(tokenizer, max_length=128)
    rng = random.Random(0)
    items = [
        build_instance(ex, encoder, cfg.model.max_width, rng, cfg, LabelPools([], [], {}))
        for ex in examples
    ]
    assert any(it.pair_targets for it in items)
    trained = [
        *model.relation_label_adapter.parameters(),
        *model.separate_lora.parameters(),
        *model.relation_label_fusion.parameters(),
    ]
    opt = torch.optim.AdamW(trained, lr=1e-3)
    losses = []
    for _ in range(20):
        loss, _, _ = relation_label_encoder_loss(model, items, cfg, encoder)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_a_batch_without_relation_labels_gives_a_finite_loss(datasets, tokenizer):
    # NER-only data (no relation labels) in a stage with label-vector distillation: the
    # vector term has nothing to match and must not divide by zero (it once made NaN)
    examples = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:3]
    for ex in examples:
        ex.relations, ex.relation_labels = [], []
    cfg = TrainConfig(train=[], model=ExtractorConfig(max_length=128), max_distractors=0)
    cfg.stage, cfg.vector_distill_weight, cfg.max_relation_distractors = (
        "relation_label_encoder", 0.5, 0
    )  # fmt: skip
    model = JointExtractionModel.from_base_encoder(cfg.model).eval()
    model.add_relation_label_adapter(lora_rank=4)
    encoder = TextEncoder(tokenizer, max_length=128)
    items = [
        build_instance(ex, encoder, 12, random.Random(0), cfg, LabelPools([], [], {}))
        for ex in examples
    ]
    assert not any(it.relation_prompt for it in items)
    loss, _, _ = relation_label_encoder_loss(model, items, cfg, encoder)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(
        p.grad is None or torch.isfinite(p.grad).all() for p in model.separate_lora.parameters()
    )
