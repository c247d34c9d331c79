"""The ``hybrid`` relation-label layout: the joint first pass, the rest read one way.

Its first prompt holds the entity labels and the first group of relation labels, as the
joint layout's first pass does; the other relation labels are appended after the text:
every label token attends to the text (and to its own group of labels) at every layer,
as in the joint layout, while the text is encoded as if they were absent. These tests
check the layout against plain computations (the library's own encoder forward for the
text, a layer-by-layer formulation for the labels, ``reference_inference`` for whole
extractions), that ONNX Runtime computes the same, and that the ``one_way`` training
stage trains only its update (``one_way_lora``), and learns.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
import torch
from reference_inference import ReferenceExtractor, naive_one_way_vectors, reference_encode
from test_fast_inference import assert_same_extractions

from kgbuild.extract.inference.extractor import JointExtractor
from kgbuild.extract.model.collation import collate, collate_one_way, collate_one_way_rows
from kgbuild.extract.model.config import ExtractorConfig
from kgbuild.extract.model.encoding import TextEncoder, split_words
from kgbuild.extract.model.network import JointExtractionModel, checkpoint_files
from kgbuild.extract.options import checkpoint_model_id
from kgbuild.extract.training.config import TrainConfig
from kgbuild.extract.training.data import read_spert
from kgbuild.extract.training.loop import train
from kgbuild.extract.training.losses import _vector_error, one_way_loss
from kgbuild.extract.training.sampling import LabelPools, build_instance
from kgbuild.extract.training.thresholds import tune_hybrid_threshold, write_thresholds
from kgbuild.schema import RelationConstraint

TEXTS = [
    "Anna Weber works for Northwind Robotics in Berlin. She met Hiro Tanaka in Osaka.",
    "Bluepeak Energy was founded by Mateo Rossi in Lisbon, where Rosa Xu lives.",
]
ENTITIES = ["person", "organization", "city"]
MANY_RELATIONS = [f"relation kind number {i}" for i in range(40)] + ["works for", "lives in"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A small untrained model whose label-side update is non-zero (as a trained one
    would be)."""
    torch.manual_seed(5)
    model = JointExtractionModel.from_base_encoder(ExtractorConfig(name="tiny", max_length=128))
    model.add_one_way_lora(4)
    with torch.no_grad():
        for update in model.one_way_lora.values():
            update.b.normal_(0.0, 0.02)
    directory = tmp_path_factory.mktemp("tiny-hybrid") / "model"
    model.save_pretrained(directory)
    return directory


def _extractors(directory: Path, layout: str) -> tuple[JointExtractor, ReferenceExtractor]:
    new = JointExtractor.from_pretrained(directory, backend="torch", relation_labels=layout)
    old = ReferenceExtractor(
        new.model, new.encoder.tokenizer, model_id=new.model_id, relation_labels=layout
    )
    return new, old


@pytest.fixture(scope="module")
def extractor(tiny) -> JointExtractor:
    return JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="hybrid")


def _texts(extractor: JointExtractor, entities: list[str]):
    return [extractor.encoder.encode(t, split_words(t), entities, []) for t in TEXTS]


@torch.no_grad()
def test_the_text_is_encoded_as_if_the_labels_were_absent(extractor):
    model = extractor.model
    texts = _texts(extractor, ENTITIES)
    block = extractor.relation_label_block(ENTITIES, MANY_RELATIONS)
    assert len(set(block.group_ids)) > 1  # several groups of labels
    batch = collate_one_way(texts, block)
    every_row = {k: v for k, v in batch.items() if not k.startswith("final_")}
    plain = model.encode(collate(texts))  # the library's forward, no relation labels
    text, labels = model.encode_one_way(every_row)
    read, read_labels = model.encode_one_way(batch)  # the last layer on read rows only
    mask = collate(texts)["attention_mask"].bool()
    torch.testing.assert_close(text[mask], plain[mask], atol=1e-5, rtol=1e-5)
    assert labels.shape == (len(TEXTS), len(block.input_ids), plain.size(-1))
    # the rows read after the encoder: the texts, [CLS], entity and relation markers
    rows, label_rows = batch["final_text_rows"], batch["final_label_rows"]
    assert len(rows) < mask.size(1) and label_rows.tolist() == block.marker_positions
    for e in texts:
        assert set(e.entity_marker_positions) <= set(rows.tolist())
        assert set(e.word_first_token[e.word_first_token >= 0].tolist()) <= set(rows.tolist())
    torch.testing.assert_close(read[:, rows], text[:, rows], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        read_labels[:, label_rows], labels[:, label_rows], atol=1e-5, rtol=1e-5
    )


@torch.no_grad()
def test_label_vectors_match_the_layer_by_layer_computation(extractor):
    model = extractor.model
    texts = _texts(extractor, ENTITIES)
    block = extractor.relation_label_block(ENTITIES, MANY_RELATIONS)
    batch = collate_one_way(texts, block)
    _, labels = model.encode_one_way(batch)
    got = model.label_embeddings(labels, batch["relation_markers"], model.relation_label_proj)
    for i, text in enumerate(TEXTS):
        enc = reference_encode(extractor.encoder, text, split_words(text), ENTITIES, [])
        want = naive_one_way_vectors(extractor, enc, ENTITIES, MANY_RELATIONS)
        torch.testing.assert_close(got[i], want, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_groups_do_not_see_each_other_and_labels_depend_on_the_text(extractor):
    model = extractor.model
    texts = _texts(extractor, ENTITIES)
    first = ["works for", "lives in"]
    alone = extractor.encoder.relation_label_block(ENTITIES, [first])
    beside = extractor.encoder.relation_label_block(ENTITIES, [first, ["born in", "owns"]])
    n = len(alone.input_ids)
    assert beside.position_ids[n] == beside.position_ids[0]  # each group starts afresh
    _, a = model.encode_one_way(collate_one_way(texts, alone))
    _, b = model.encode_one_way(collate_one_way(texts, beside))
    torch.testing.assert_close(b[:, : a.size(1)], a, atol=1e-5, rtol=1e-5)
    assert (a[0] - a[1]).abs().max() > 1e-3  # the same labels read two different texts


@torch.no_grad()
def test_a_block_per_text_gives_what_a_shared_block_gives(extractor):
    # training gives each text its own labels (padded blocks); inference shares one
    model = extractor.model
    texts = _texts(extractor, ENTITIES)
    blocks = [
        extractor.encoder.relation_label_block(ENTITIES, [["works for", "lives in", "born in"]]),
        extractor.encoder.relation_label_block(ENTITIES, [["founded by"]]),
    ]
    rows = collate_one_way_rows(texts, blocks)
    _, per_row = model.encode_one_way(rows)
    for i, block in enumerate(blocks):
        _, shared = model.encode_one_way(collate_one_way([texts[i]], block))
        # (the shared block's last layer computes the markers only: compare those)
        markers = block.marker_positions
        torch.testing.assert_close(per_row[i, markers], shared[0, markers], atol=1e-5, rtol=1e-5)


def _layout_batch(x: JointExtractor):
    """TEXTS as the hybrid layout reads them with MANY_RELATIONS: their encodings, the
    block of relation labels read one way, the batch, the first group of relation
    labels (in the prompt)."""
    (ents, first), *_ = x.label_passes(ENTITIES, MANY_RELATIONS)
    texts = [x.encoder.encode(t, split_words(t), ents, first) for t in TEXTS]
    block = x.relation_label_block(ents, MANY_RELATIONS[len(first) :], first)
    return texts, block, collate_one_way(texts, block), first


@torch.no_grad()
def test_onnx_runtime_computes_what_torch_computes(tiny, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("KGBUILD_CACHE_DIR", str(tmp_path / "cache"))
    extractors = {
        backend: JointExtractor.from_pretrained(tiny, backend=backend, relation_labels="hybrid")
        for backend in ("torch", "onnx")
    }
    _, _, batch, _ = _layout_batch(extractors["torch"])
    torch_out, onnx_out = (x._forward(batch, True, True, one_way=True) for x in extractors.values())
    for a, b in zip(torch_out, onnx_out, strict=True):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    graphs = sorted(p.name for p in (tmp_path / "cache/onnx").glob("*.onnx"))
    assert len(graphs) == 2 and graphs[0].endswith("-hybrid.onnx")  # joint + hybrid


@torch.no_grad()
def test_the_dynamo_fallback_exports_the_hybrid_graph_too(tiny, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from kgbuild.extract.inference import onnx_backend

    x = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="hybrid")
    model = x.model
    inputs = onnx_backend.INPUTS + onnx_backend.ONE_WAY_INPUTS
    example = onnx_backend._example_batch(model, one_way=True)
    path = tmp_path / "dynamo-hybrid.onnx"
    onnx_backend._export_dynamo(
        onnx_backend.InferenceHeads(model).eval(), tuple(example[k] for k in inputs), inputs, path
    )
    graph = onnx_backend.OnnxHeads(path, num_threads=1)
    _, _, batch, _ = _layout_batch(x)
    # the graph gives the block's vectors; the prompt's come from its hidden states
    want = x._forward(
        {**batch, "prompt_relation_markers": torch.full((2, 1), -1)}, True, True, one_way=True
    )
    for name, a, b in zip(onnx_backend.OUTPUTS, want, graph(batch), strict=True):
        assert a.shape == b.shape, name
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4, msg=name)


def test_hybrid_reads_labels_one_way_only_where_the_joint_layout_needs_several_passes(
    tiny, monkeypatch
):
    monkeypatch.delenv("KGBUILD_RELATION_LABELS", raising=False)
    hybrid = JointExtractor.from_pretrained(tiny, backend="torch")  # the default
    prompt = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="prompt")
    assert hybrid.relation_labels == "hybrid" and prompt.relation_labels == "prompt"
    small = ["works for", "lives in"]
    passes = hybrid.label_passes(ENTITIES, small)
    assert passes == prompt.label_passes(ENTITIES, small)
    assert hybrid.layout.one_way_labels(small, passes) == []  # nothing to append
    assert hybrid.layout.one_way_labels([], hybrid.label_passes(ENTITIES, [])) == []
    joint = prompt.label_passes(ENTITIES, MANY_RELATIONS)
    assert len(joint) > 1
    # the joint layout's first pass; the other relation labels read one way
    passes = hybrid.label_passes(ENTITIES, MANY_RELATIONS)
    assert passes == [joint[0]]
    assert (
        hybrid.layout.one_way_labels(MANY_RELATIONS, passes) == MANY_RELATIONS[len(joint[0][1]) :]
    )
    assert hybrid.model_id == prompt.model_id == checkpoint_model_id(tiny)  # same outputs
    # "auto", the default's name before the layouts were retired, still means hybrid
    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "auto")
    assert JointExtractor.from_pretrained(tiny, backend="torch").relation_labels == "hybrid"
    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "prompt")
    assert JointExtractor.from_pretrained(tiny, backend="torch").relation_labels == "prompt"
    monkeypatch.setenv("KGBUILD_RELATION_LABELS", "sideways")
    with pytest.raises(ValueError, match="KGBUILD_RELATION_LABELS"):
        JointExtractor.from_pretrained(tiny, backend="torch")
    for retired in ("oneway", "separate"):
        with pytest.raises(ValueError, match="retired"):
            JointExtractor.from_pretrained(tiny, backend="torch", relation_labels=retired)


def test_a_checkpoint_without_the_update_reads_labels_one_way_too(tmp_path):
    plain = JointExtractionModel.from_base_encoder(ExtractorConfig(name="plain", max_length=96))
    plain.save_pretrained(tmp_path / "plain")
    x = JointExtractor.from_pretrained(tmp_path / "plain", backend="torch")
    passes = x.label_passes(ENTITIES, MANY_RELATIONS)
    assert x.layout.one_way_labels(MANY_RELATIONS, passes)
    result = x.extract(TEXTS, ENTITIES, MANY_RELATIONS, entity_threshold=0.5)
    assert len(result) == len(TEXTS)
    assert {r.label for e in result for r in e.relations} <= set(MANY_RELATIONS)


def test_checkpoints_with_retired_parts_load_without_them(tiny, tmp_path):
    # a checkpoint saved before the separate layout, its fusion and context were retired
    from safetensors.torch import load_file, save_file

    old = tmp_path / "old"
    old.mkdir()
    config = json.loads((tiny / "config.json").read_text())
    retired = {
        "relation_label_encoder": True, "separate_lora_rank": 4, "relation_label_context": True,
        "separate_relation_threshold": 0.6, "one_way_relation_threshold": 0.6,
        "relation_label_fusion_layers": 0,
    }  # fmt: skip
    (old / "config.json").write_text(json.dumps({**config, **retired}))
    main = load_file(str(tiny / "model.safetensors"))
    extra = {
        "relation_label_adapter.0.weight": torch.ones(2, 2, dtype=torch.float16),
        "separate_lora.encoder__layer__0__attention__self__query.a": torch.ones(4, 384),
        "relation_label_attention.out_proj.weight": torch.ones(2, 2),
    }
    save_file({**main, **extra}, str(old / "model.safetensors"))
    (old / "one_way_lora.safetensors").write_bytes((tiny / "one_way_lora.safetensors").read_bytes())
    loaded = JointExtractionModel.from_pretrained(old)
    assert not any(k.startswith(("separate_lora", "relation_label_a")) for k in loaded.state_dict())
    want = JointExtractionModel.from_pretrained(tiny).state_dict()
    assert loaded.state_dict().keys() == want.keys()
    for name, value in want.items():
        assert torch.equal(loaded.state_dict()[name], value), name


def _tiny_stage_config(datasets: Path, tmp_path: Path, init: Path) -> Path:
    config = {
        "model": {"name": "tiny-ow", "max_length": 128},
        "stage": "one_way",
        "lora_rank": 4,
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


def test_batches_count_the_appended_labels(extractor):
    texts = _texts(extractor, ENTITIES) * 8
    without = extractor._batches(texts)
    with_block = extractor._batches(texts, extra_tokens=400)
    assert len(with_block) > len(without)
    assert sorted(i for b in with_block for i in b) == list(range(len(texts)))


def test_one_way_stage_trains_the_label_update_only(datasets, tmp_path):
    torch.manual_seed(1)
    base = JointExtractionModel.from_base_encoder(ExtractorConfig(name="base", max_length=128))
    base.config.entity_threshold = 0.3
    base.save_pretrained(tmp_path / "base")
    out = train(_tiny_stage_config(datasets, tmp_path, tmp_path / "base"), max_steps=3)
    before = JointExtractionModel.from_pretrained(tmp_path / "base").state_dict()
    model = JointExtractionModel.from_pretrained(out)
    assert model.config.one_way_lora_rank == 4
    assert model.config.entity_threshold == 0.3  # the joint model's settings are kept
    after = model.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), name
    lora_b = [v for k, v in after.items() if k.startswith("one_way_lora.") and k.endswith(".b")]
    assert len(lora_b) == 36 and all(b.abs().sum() > 0 for b in lora_b)
    # the update has a file of its own; the model's file is the one the stage started from
    base_file = (tmp_path / "base" / "model.safetensors").read_bytes()
    assert (out / "model.safetensors").read_bytes() == base_file
    assert (out / "one_way_lora.safetensors").stat().st_size > 0


def test_adapters_are_saved_apart_and_old_single_file_checkpoints_load(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    model = JointExtractionModel.from_pretrained(tiny)
    assert checkpoint_files(tiny) == ["model.safetensors", "one_way_lora.safetensors"]
    main, update = (load_file(str(tiny / name)) for name in checkpoint_files(tiny))
    assert update and all(k.startswith("one_way_lora.") for k in update)
    assert not any(k.startswith("one_way_lora.") for k in main)
    # a checkpoint written before adapters had files of their own
    single = tmp_path / "single"
    single.mkdir()
    (single / "config.json").write_text((tiny / "config.json").read_text())
    save_file({**main, **update}, str(single / "model.safetensors"))
    assert checkpoint_files(single) == ["model.safetensors"]
    loaded = JointExtractionModel.from_pretrained(single).state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(loaded[name], value), name
    # saving a model without the update drops a stale update file
    plain = JointExtractionModel.from_base_encoder(ExtractorConfig(name="p", max_length=96))
    model.save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / "one_way_lora.safetensors").is_file()
    plain.save_pretrained(tmp_path / "again")
    assert checkpoint_files(tmp_path / "again") == ["model.safetensors"]
    JointExtractionModel.from_pretrained(tmp_path / "again")  # loads: nothing unexpected


def _one_way_training(datasets, tokenizer, vector_distill_weight):
    torch.manual_seed(0)
    examples = read_spert(
        datasets / "conll04/conll04_train.json", datasets / "conll04/conll04_types.json"
    )[:8]
    cfg = TrainConfig(train=[], model=ExtractorConfig(max_length=128), max_distractors=0)
    cfg.stage = "one_way"
    cfg.vector_distill_weight = vector_distill_weight
    model = JointExtractionModel.from_base_encoder(cfg.model).eval()
    model.add_one_way_lora(8)
    encoder = TextEncoder(tokenizer, max_length=128)
    rng = random.Random(0)
    items = [
        build_instance(ex, encoder, cfg.model.max_width, rng, cfg, LabelPools([], [], {}))
        for ex in examples
    ]
    assert any(it.pair_targets for it in items)
    return model, encoder, items, cfg


def _vector_gap(model, encoder, items) -> float:
    """How far the one-way label vectors are from the joint layout's, over ``items``."""
    joint = collate([it.encoded for it in items])
    batch = collate_one_way_rows(
        [encoder.encode(it.text, it.word_spans, it.entity_prompt, []) for it in items],
        [encoder.relation_label_block(it.entity_prompt, [it.relation_prompt]) for it in items],
    )
    with torch.no_grad():
        rel_j = model.label_embeddings(
            model.encode(joint), joint["relation_markers"], model.relation_label_proj
        )
        _, hidden_l = model.encode_one_way(batch)
        rel = model.label_embeddings(hidden_l, batch["relation_markers"], model.relation_label_proj)
    return _vector_error(rel, rel_j, joint["relation_markers"]).item()


def _train_steps(model, encoder, items, cfg, steps: int) -> list[float]:
    """``steps`` AdamW steps of ``one_way_lora`` on ``items``; the losses."""
    opt = torch.optim.AdamW(model.one_way_lora.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss, _, _ = one_way_loss(model, items, cfg, encoder)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("vector_distill_weight", [0.0, 1.0])
def test_one_way_loss_goes_down(datasets, tokenizer, vector_distill_weight):
    model, encoder, items, cfg = _one_way_training(datasets, tokenizer, vector_distill_weight)
    losses = _train_steps(model, encoder, items, cfg, 20)
    assert losses[-1] < 0.8 * losses[0], losses


def test_vector_distillation_pulls_label_vectors_to_the_joint_ones(datasets, tokenizer):
    model, encoder, items, cfg = _one_way_training(datasets, tokenizer, 1.0)
    # (the joint layout with a fresh, untrained update: one way differs from it)
    before = _vector_gap(model, encoder, items)
    with_vectors, _, _ = one_way_loss(model, items, cfg, encoder)
    cfg.vector_distill_weight = 0.0
    without, _, _ = one_way_loss(model, items, cfg, encoder)
    # the term adds the error of every text's labels (the loss is per text)
    assert with_vectors.item() == pytest.approx(without.item() + before / len(items), rel=1e-4)

    def gap_after_training(weight: float) -> float:
        trained, _, _, cfg = _one_way_training(datasets, tokenizer, weight)
        _train_steps(trained, encoder, items, cfg, 10)
        return _vector_gap(trained, encoder, items)

    # untrained heads: the gold relations alone pull the vectors anywhere; with the
    # term weighted up, towards the joint layout's
    pulled, free = gap_after_training(20.0), gap_after_training(0.0)
    assert pulled < 0.7 * before and pulled < 0.5 * free, (before, pulled, free)


def test_vector_error_counts_real_labels_relative_to_their_size():
    teacher = torch.randn(2, 3, 8)
    markers = torch.tensor([[4, 6, -1], [5, -1, -1]])  # 3 real labels, 3 padding
    assert _vector_error(teacher.clone(), teacher, markers).item() == 0.0
    student = teacher.clone()
    student[0, 2] += 100.0  # padding: ignored
    student[1, 1] -= 100.0
    assert _vector_error(student, teacher, markers).item() == 0.0
    student[0, 1] += 1.0
    error = _vector_error(student, teacher, markers)
    # one vector off by a unit in each of its 8 dimensions: 8, over the mean squared norm
    norms = teacher.pow(2).sum(-1)[markers >= 0]
    assert error.item() == pytest.approx(8.0 / norms.mean().item(), rel=1e-5)
    # relative: scaling both leaves it unchanged
    assert _vector_error(3 * student, 3 * teacher, markers).item() == pytest.approx(error.item())
    # nothing to match
    none = torch.full((2, 3), -1)
    assert _vector_error(student, teacher, none).item() == 0.0


# ---------------------------------------------------------------------- hybrid layout

#: entity labels that fill more than half of the tiny model's prompt budget, not all of it
WIDE_ENTITIES = [*ENTITIES, *(f"thing {i}" for i in range(5))]


@pytest.mark.parametrize(
    "entities", [ENTITIES, WIDE_ENTITIES, [*ENTITIES, *(f"thing {i}" for i in range(57))]],
    ids=["joint-first-pass", "wide-entity-prompt", "entity-passes"],
)  # fmt: skip
def test_hybrid_extractions_match_the_plain_computation(tiny, entities):
    new, old = _extractors(tiny, "hybrid")
    passes = new.label_passes(entities, MANY_RELATIONS)
    budget = new.budget.tokens
    cost = new.encoder.label_tokens(entities)
    first = passes[0][1]
    assert new.layout.one_way_labels(MANY_RELATIONS, passes)
    assert all(not rels for _, rels in passes[1:])
    assert 0 < len(first) < len(MANY_RELATIONS) or cost > budget
    if cost <= budget // 2:  # the joint layout's first pass
        assert passes == [_joint_first_pass(tiny, entities)]
    elif cost <= budget:  # every entity label, and the relation labels that still fit
        assert passes[0][0] == entities and len(passes) == 1
        assert new.encoder.label_tokens(passes[0][0] + first) <= budget
    else:
        assert len(passes) > 1
    kwargs = {"entity_threshold": 0.5}  # relations: each label's own threshold
    got = new.extract(TEXTS, entities, MANY_RELATIONS, **kwargs)
    want = old.extract(TEXTS, entities, MANY_RELATIONS, **kwargs)
    assert_same_extractions(got, want)
    assert sum(len(x.relations) for x in got) > 10  # the comparison covers relations


def _joint_first_pass(tiny, entities):
    prompt = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="prompt")
    return prompt.label_passes(entities, MANY_RELATIONS)[0]


def test_hybrid_entities_and_first_group_relations_are_the_joint_layouts(tiny):
    hybrid = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="hybrid")
    prompt = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="prompt")
    first = set(hybrid.label_passes(ENTITIES, MANY_RELATIONS)[0][1])
    kwargs = {"entity_threshold": 0.5, "relation_threshold": 0.5}
    got = hybrid.extract(TEXTS, ENTITIES, MANY_RELATIONS, **kwargs)
    want = prompt.extract(TEXTS, ENTITIES, MANY_RELATIONS, **kwargs)
    for a, b in zip(got, want, strict=True):
        assert [(e.start, e.end, e.label, e.score) for e in a.entities] == [
            (e.start, e.end, e.label, e.score) for e in b.entities
        ]
        in_first = [
            [(r.head, r.tail, r.label, r.score) for r in x.relations if r.label in first]
            for x in (a, b)
        ]
        assert in_first[0] == in_first[1]
    assert any(r.label in first for x in got for r in x.relations)
    assert any(r.label not in first for x in got for r in x.relations)


def test_hybrid_labels_read_one_way_have_their_own_threshold(tiny):
    x = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="hybrid")
    first = set(x.label_passes(ENTITIES, MANY_RELATIONS)[0][1])
    x.config.relation_threshold, x.config.hybrid_relation_threshold = 0.5, 0.999
    strict = x.extract(TEXTS, ENTITIES, MANY_RELATIONS, entity_threshold=0.5)
    x.config.hybrid_relation_threshold = 0.5
    loose = x.extract(TEXTS, ENTITIES, MANY_RELATIONS, entity_threshold=0.5)
    labels = {r.label for e in strict for r in e.relations}
    assert labels and labels <= first  # nothing read one way reaches 0.999
    assert {r.label for e in loose for r in e.relations} - first
    kept = [[(r.head, r.tail, r.label) for r in e.relations if r.label in first] for e in loose]
    assert kept == [[(r.head, r.tail, r.label) for r in e.relations] for e in strict]


@torch.no_grad()
def test_hybrid_text_reads_its_prompt_only_and_the_last_layer_computes_what_is_read(tiny):
    x = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="hybrid")
    model = x.model
    texts, block, batch, first = _layout_batch(x)
    every_row = {k: v for k, v in batch.items() if not k.startswith("final_")}
    plain = model.encode(collate(texts))  # the joint encoder
    text, labels = model.encode_one_way(every_row)
    read, read_labels = model.encode_one_way(batch)
    mask = collate(texts)["attention_mask"].bool()
    torch.testing.assert_close(text[mask], plain[mask], atol=1e-5, rtol=1e-5)
    rows = batch["final_text_rows"].tolist()
    for e in texts:
        assert set(e.relation_marker_positions) <= set(rows)  # the prompt's relations
        assert set(e.entity_marker_positions) <= set(rows)
        words = e.word_first_token[e.word_first_token >= 0].tolist()
        assert set(words) <= set(rows)
        assert not set(
            range(e.relation_marker_positions[0] + 1, e.relation_marker_positions[1])
        ) & set(rows)
    torch.testing.assert_close(read[:, rows], text[:, rows], atol=1e-5, rtol=1e-5)
    marks = block.marker_positions
    torch.testing.assert_close(read_labels[:, marks], labels[:, marks], atol=1e-5, rtol=1e-5)
    # the vectors: the prompt's relation labels, then the block's, in label order
    rel = x._forward(batch, True, True, one_way=True)[4]
    assert rel.shape[1] == len(MANY_RELATIONS)
    joint = model.label_embeddings(
        plain, collate(texts)["relation_markers"], model.relation_label_proj
    )
    torch.testing.assert_close(rel[:, : len(first)], joint, atol=1e-5, rtol=1e-5)


def _many_relation_examples(datasets, relation_labels: list[str]):
    examples = read_spert(
        datasets / "conll04/conll04_dev.json", datasets / "conll04/conll04_types.json"
    )[:4]
    return [
        dataclasses.replace(ex, relation_labels=[*ex.relation_labels, *relation_labels])
        for ex in examples
    ]


def test_hybrid_threshold_is_picked_on_dev_schemas_that_need_the_layout(tiny, datasets):
    extractor = JointExtractor.from_pretrained(tiny, backend="torch")
    model, tokenizer = extractor.model, extractor.encoder.tokenizer
    cfg = TrainConfig(train=[], model=ExtractorConfig(max_length=128), dev_limit=4)
    cfg.stage, cfg.threshold_grid = "one_way", [0.3, 0.8]
    many = _many_relation_examples(datasets, MANY_RELATIONS)
    few = _many_relation_examples(datasets, [])
    passes = extractor.label_passes(many[0].entity_labels, many[0].relation_labels)
    assert extractor.layout.one_way_labels(many[0].relation_labels, passes)
    assert tune_hybrid_threshold(model, tokenizer, {"few": few}, cfg) is None
    picked = tune_hybrid_threshold(model, tokenizer, {"few": few, "many": many}, cfg)
    assert picked in (0.3, 0.55, 0.8)
    assert model.config.hybrid_relation_threshold is None  # tried, then restored


def test_retuned_thresholds_go_to_the_stage_summary(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"name": "m", "relation_threshold": 0.5}))
    joint = {"relation_threshold": 0.5, "config": {"relation_threshold": 0.5}}
    (tmp_path / "training.json").write_text(json.dumps(joint))
    (tmp_path / "training-one-way.json").write_text(json.dumps({"config": {}}))
    picked = {"hybrid_relation_threshold": 0.55}
    write_thresholds(tmp_path, picked, "one_way")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"name": "m", "relation_threshold": 0.5, **picked}
    assert json.loads((tmp_path / "training.json").read_text()) == joint  # untouched
    one_way = json.loads((tmp_path / "training-one-way.json").read_text())
    assert one_way == {**picked, "config": picked}
    write_thresholds(tmp_path, {"relation_threshold": 0.4})
    assert (
        json.loads((tmp_path / "training.json").read_text())["config"]["relation_threshold"] == 0.4
    )


def test_hybrid_type_constraints_drop_only_what_they_forbid(tiny):
    x = JointExtractor.from_pretrained(tiny, backend="torch", relation_labels="hybrid")
    # (the untrained model's relation scores lie between 0.50 and 0.52)
    x.config.relation_threshold, x.config.hybrid_relation_threshold = 0.515, 0.505
    constraints = {"lives in": RelationConstraint(head=["person"], tail=["city"])}
    free = x.extract(TEXTS, ENTITIES, MANY_RELATIONS, entity_threshold=0.5)
    bound = x.extract(
        TEXTS, ENTITIES, MANY_RELATIONS, entity_threshold=0.5, relation_constraints=constraints
    )
    dropped = 0
    for a, b in zip(free, bound, strict=True):
        assert [(e.start, e.end, e.label) for e in a.entities] == [
            (e.start, e.end, e.label) for e in b.entities
        ]
        allowed = [
            (r.head, r.tail, r.label, r.score)
            for r in a.relations
            if r.label != "lives in"
            or (a.entities[r.head].label, a.entities[r.tail].label) == ("person", "city")
        ]
        dropped += len(a.relations) - len(allowed)
        assert [(r.head, r.tail, r.label, r.score) for r in b.relations] == allowed
    # the labels read one way kept their own threshold under the constraints too
    assert dropped and any(r.score <= 0.515 for x_ in bound for r in x_.relations)
