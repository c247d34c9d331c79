"""ONNX Runtime runs the extractor's encoder and heads with torch's results.

The shipped checkpoint is loaded twice, once per backend, and both read the same
weights: any difference is the exported graph's. The per-batch outputs must agree
within 1e-3 on the pipeline's own chunks (the issue's bar), and the decoded entities
and relations must be the same, with scores equal up to float rounding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_fast_inference import assert_same_extractions, pipeline_chunks
from typer.testing import CliRunner

from kgbuild.cli.main import app
from kgbuild.extract import default_model_dir, load_extractor
from kgbuild.extract.inference import onnx_backend
from kgbuild.extract.inference.extractor import DEFAULT_THREADS, JointExtractor
from kgbuild.extract.inference.layouts import get_layout
from kgbuild.extract.model.collation import collate
from kgbuild.extract.model.encoding import split_words
from kgbuild.extract.options import checkpoint_model_id
from kgbuild.schema import DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES

LOGIT_TOLERANCE = 1e-3
# Scores are rounded to 4 decimals after a sigmoid: a logit difference far below 1e-3 can
# still move one rounded score by 1e-4.
SCORE_TOLERANCE = 2e-4


@pytest.fixture(scope="module")
def torch_extractor() -> JointExtractor:
    extractor = load_extractor(backend="torch")
    assert isinstance(extractor, JointExtractor) and extractor.backend == "torch"
    return extractor


@pytest.fixture(scope="module")
def onnx_extractor() -> JointExtractor:
    extractor = load_extractor(backend="onnx", int8=False)
    assert isinstance(extractor, JointExtractor) and extractor.backend == "onnx"
    assert extractor.model_id == torch_extractor_id()
    return extractor


def torch_extractor_id() -> str:
    return checkpoint_model_id(default_model_dir())


def encoded_batches(extractor, texts, entity_types, relation_types):
    """The batches the extractor itself would build for one label pass."""
    tokens = extractor.encoder.tokenize(texts)
    encoded = [
        extractor.encoder.encode(t, split_words(t), entity_types, relation_types, tokens=k)
        for t, k in zip(texts, tokens, strict=True)
    ]
    for ids in extractor._batches(encoded):
        yield collate([encoded[i] for i in ids])


@torch.inference_mode()
def test_heads_match_torch_within_1e3_on_pipeline_chunks(torch_extractor, onnx_extractor):
    texts = pipeline_chunks(torch_extractor, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    cases = [
        (texts, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES),
        # one text, one label of each kind: sizes the exporter must not have fixed
        (texts[:1], ["person"], ["works for"]),
        (texts[:3], [*DEFAULT_ENTITY_TYPES, "vehicle", "disease", "software"], []),
    ]
    compared = 0
    for chunk_texts, entity_types, relation_types in cases:
        for batch in encoded_batches(torch_extractor, chunk_texts, entity_types, relation_types):
            want = torch_extractor._forward(batch, True, True)
            got = onnx_extractor.heads(batch)
            for name, a, b in zip(onnx_backend.OUTPUTS, want, got, strict=True):
                assert a.shape == b.shape, name
                assert (a - b).abs().max().item() <= LOGIT_TOLERANCE, name
            compared += batch["input_ids"].shape[0]
    assert compared >= len(texts) + 4


def test_extractions_equal_torch_on_pipeline_chunks(torch_extractor, onnx_extractor):
    texts = pipeline_chunks(torch_extractor, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    new = onnx_extractor.extract(texts, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    old = torch_extractor.extract(texts, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    assert_same_extractions(new, old, SCORE_TOLERANCE)
    assert sum(len(x.relations) for x in new) > 20


def test_several_label_passes_equal_torch(torch_extractor, onnx_extractor):
    entity_types = [*DEFAULT_ENTITY_TYPES, *[f"kind of thing number {i}" for i in range(25)]]
    relation_types = [*DEFAULT_RELATION_TYPES, *[f"relation number {i}" for i in range(20)]]
    assert len(torch_extractor.label_passes(entity_types, relation_types)) > 1
    texts = pipeline_chunks(torch_extractor, entity_types, relation_types)[:8]
    kwargs = {"entity_threshold": 0.3, "relation_threshold": 0.2}
    new = onnx_extractor.extract(texts, entity_types, relation_types, **kwargs)
    old = torch_extractor.extract(texts, entity_types, relation_types, **kwargs)
    assert_same_extractions(new, old, SCORE_TOLERANCE)
    assert any(x.relations for x in new)


@torch.inference_mode()
def test_dynamo_fallback_graph_scores_like_the_traced_one(onnx_extractor, tmp_path):
    """The default graph is traced (TorchScript exporter, eager attention); the dynamo
    export it falls back to must give the same outputs, and exporting must leave the
    torch model's own attention setting as it was."""
    model = onnx_extractor.model
    attention = model.encoder.config._attn_implementation
    path = tmp_path / "dynamo.onnx"
    example = onnx_backend._example_batch(model)
    onnx_backend._export_dynamo(
        onnx_backend.InferenceHeads(model).eval(),
        tuple(example[k] for k in onnx_backend.INPUTS),
        onnx_backend.INPUTS,
        path,
    )
    dynamo = onnx_backend.OnnxHeads(path, num_threads=1)
    texts = pipeline_chunks(onnx_extractor, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)[:6]
    batches = list(
        encoded_batches(onnx_extractor, texts, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    )
    for batch in batches:
        for name, a, b in zip(
            onnx_backend.OUTPUTS, onnx_extractor.heads(batch), dynamo(batch), strict=True
        ):
            assert a.shape == b.shape, name
            assert (a - b).abs().max().item() <= LOGIT_TOLERANCE, name
    assert batches
    onnx_backend.export_onnx(model, tmp_path / "traced.onnx")
    assert model.encoder.config._attn_implementation == attention


def test_export_is_cached_and_keyed_by_the_checkpoint(onnx_extractor, tmp_path, monkeypatch):
    graph = onnx_extractor.heads.path
    assert graph.parent == onnx_backend.cache_dir() and graph.is_file()
    os.utime(graph, (1e9, 1e9))
    export = onnx_backend.export_onnx

    def no_export(*args, **kwargs):
        raise AssertionError("the cached graph was exported again")

    monkeypatch.setattr(onnx_backend, "export_onnx", no_export)
    again = JointExtractor.from_pretrained(backend="onnx", int8=False)
    assert again.heads.path == graph
    assert graph.stat().st_mtime > 1e9  # marked as used (what the cache's pruning reads)
    monkeypatch.setattr(onnx_backend, "export_onnx", export)
    # another checkpoint (here: other thresholds) gets its own graph, never a stale one
    other = tmp_path / "model"
    shutil.copytree(default_model_dir(), other)
    config = json.loads((other / "config.json").read_text())
    config["entity_threshold"] = 0.33
    (other / "config.json").write_text(json.dumps(config))
    changed = JointExtractor.from_pretrained(other, backend="onnx", int8=False)
    assert changed.heads.path != graph and changed.heads.path.is_file()
    assert changed.config.entity_threshold == 0.33
    assert graph.is_file()  # the shipped version was used last: it stays


def test_int8_onnx_still_finds_the_obvious(onnx_extractor):
    int8 = JointExtractor.from_pretrained(backend="onnx", int8=True)
    assert int8.backend == "onnx" and "-int8-" in int8.heads.path.name
    assert int8.model_id.endswith("-int8")
    out = int8.extract(
        ["Tim Cook is the chief executive of Apple."], ["person", "organization"], []
    )
    found = {(e.text, e.label) for e in out[0].entities}
    assert ("Tim Cook", "person") in found and ("Apple", "organization") in found


def test_int8_is_opt_in_by_argument_or_environment(monkeypatch):
    monkeypatch.delenv("KGBUILD_QUANTIZE", raising=False)
    name = torch_extractor_id()
    assert JointExtractor.from_pretrained(backend="onnx").model_id == name
    assert load_extractor(lazy=True).model_id == name
    monkeypatch.setenv("KGBUILD_QUANTIZE", "1")
    int8 = JointExtractor.from_pretrained(backend="onnx")
    assert int8.model_id == f"{name}-int8" and "-int8-" in int8.heads.path.name
    assert load_extractor(lazy=True, backend="onnx").model_id == int8.model_id
    assert JointExtractor.from_pretrained(backend="onnx", int8=False).model_id == name
    monkeypatch.setenv("KGBUILD_QUANTIZE", "maybe")
    with pytest.raises(ValueError, match="KGBUILD_QUANTIZE"):
        load_extractor(lazy=True)


def test_int8_scores_like_fp32_on_conll04(onnx_extractor, datasets):
    """The opt-in int8 graph against fp32 on the first 150 CoNLL04 test sentences (the
    benchmark's full test set: within 0.3 F1)."""
    from kgbuild.extract.training.evaluate import evaluate

    data = datasets / "conll04"
    args = (str(data / "conll04_test.json"), str(data / "conll04_types.json"))
    int8 = JointExtractor.from_pretrained(backend="onnx", int8=True)
    fp32 = evaluate(*args, extractor=onnx_extractor, limit=150)
    low = evaluate(*args, extractor=int8, limit=150)
    assert fp32["ner_micro_f1"] > 80 and fp32["rel_micro_f1"] > 50
    assert abs(low["ner_micro_f1"] - fp32["ner_micro_f1"]) < 1.0
    assert abs(low["rel_micro_f1"] - fp32["rel_micro_f1"]) < 1.5


def test_backend_choice_from_argument_and_environment(monkeypatch):
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        JointExtractor.from_pretrained(backend="tpu")
    monkeypatch.setenv("KGBUILD_BACKEND", "torch")
    assert JointExtractor.from_pretrained().backend == "torch"
    lazy = load_extractor(lazy=True, backend="torch")
    assert lazy.model_id == JointExtractor.from_pretrained().model_id
    assert lazy.load().backend == "torch"


def test_cli_rejects_an_unknown_backend(tmp_path):
    result = CliRunner().invoke(app, ["extract", "-t", "Tim Cook leads Apple.", "--backend", "gpu"])
    assert result.exit_code != 0
    assert "--backend: unknown backend 'gpu': use auto, onnx, torch" in result.output


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KGBUILD_CACHE_DIR", str(tmp_path / "c"))
    assert onnx_backend.cache_dir() == tmp_path / "c" / "onnx"
    monkeypatch.delenv("KGBUILD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert onnx_backend.cache_dir() == tmp_path / "x" / "kgbuild" / "onnx"


def test_batches_side_by_side_give_the_same_results(onnx_extractor, torch_extractor):
    # An ONNX Runtime extractor runs one batch per core at once; torch runs in order.
    assert onnx_extractor.workers == max(1, DEFAULT_THREADS)
    texts = pipeline_chunks(torch_extractor, DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    many = [*DEFAULT_RELATION_TYPES, *[f"relation number {i}" for i in range(20)]]
    # several joint passes per batch, and the default's one pass with labels read one way
    original = onnx_extractor.layout
    for name in ("prompt", "hybrid"):
        onnx_extractor.layout = get_layout(name)
        onnx_extractor.workers = 2  # also where the machine has one core
        try:
            side_by_side = onnx_extractor.extract(texts, DEFAULT_ENTITY_TYPES, many)
            onnx_extractor.workers = 1
            in_order = onnx_extractor.extract(texts, DEFAULT_ENTITY_TYPES, many)
            passes = onnx_extractor.label_passes(DEFAULT_ENTITY_TYPES, many)
            assert (len(passes) > 1) == (name == "prompt")
            one_way = onnx_extractor.layout.one_way_labels(many, passes)
            assert bool(one_way) == (name == "hybrid")
        finally:
            onnx_extractor.workers = max(1, DEFAULT_THREADS)
            onnx_extractor.layout = original
        assert [x.model_dump() for x in side_by_side] == [x.model_dump() for x in in_order]
        assert sum(len(x.relations) for x in in_order) > 20
    assert onnx_extractor.torch_threads == (1 if DEFAULT_THREADS > 1 else DEFAULT_THREADS)
    # a torch extractor keeps the cores it was given, also after the ONNX Runtime one ran
    torch_extractor.extract(texts[:1], DEFAULT_ENTITY_TYPES, DEFAULT_RELATION_TYPES)
    assert torch.get_num_threads() == DEFAULT_THREADS == torch_extractor.torch_threads


def test_the_cache_keeps_the_graphs_of_the_versions_used_last(tmp_path):
    from kgbuild.extract.inference.onnx_backend import prune_cache

    keys = [f"{i:016x}" for i in range(1, 6)]  # used in this order, keys[4] last
    for age, key in enumerate(reversed(keys)):
        for suffix in ("", "-hybrid", "-int8-0123abcd", "-hybrid-int8-0123abcd"):
            path = tmp_path / f"m-{key}{suffix}.onnx"
            path.write_bytes(b"graph")
            os.utime(path, (1e9 - age * 100, 1e9 - age * 100))
    others = ["m-zeroshot-" + keys[0] + ".onnx", "other-" + keys[0] + ".onnx", "m-notes.onnx"]
    for name in others:
        (tmp_path / name).write_bytes(b"x")
    # the oldest version is the one being loaded: it stays, with the two used last
    removed = prune_cache(tmp_path, "m", current=keys[0], keep=3)
    left = sorted(p.name for p in tmp_path.iterdir())
    kept = {key for key in keys if any(name.startswith(f"m-{key}") for name in left)}
    assert kept == {keys[0], keys[3], keys[4]}
    assert len(removed) == 8 and not any(p.exists() for p in removed)
    assert set(others) <= set(left)  # other models' graphs and other files stay
    assert prune_cache(tmp_path, "m", current=keys[0], keep=3) == []


def test_a_cached_graph_loads_without_the_transformer(onnx_extractor, tmp_path):
    # the fixture exported (or found) the graph: a new process loads and extracts with
    # neither transformers' model code nor transformers itself, and the same outputs
    script = (
        "import json, sys\n"
        "from kgbuild.extract import load_extractor\n"
        "x = load_extractor(backend='onnx', int8=False)\n"
        "out = x.extract([sys.argv[1]], ['person', 'organization', 'city'], ['works for'])\n"
        "print(json.dumps({'loaded': x.model.encoder_loaded,\n"
        "  'transformers': 'transformers' in sys.modules,\n"
        "  'onnx': 'onnx' in sys.modules,\n"
        "  'out': [o.model_dump() for o in out]}))\n"
    )
    text = "Anna Weber works for Northwind Robotics in Berlin."
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script, text], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] is False and report["transformers"] is False, report
    assert report["onnx"] is False  # the exporter's packages are not even imported
    want = onnx_extractor.extract([text], ["person", "organization", "city"], ["works for"])
    assert report["out"] == [o.model_dump() for o in want]
    assert "Loading weights" not in done.stderr  # no weight-loading bar either


@torch.inference_mode()
def test_the_deferred_encoder_loads_when_torch_must_run_it(onnx_extractor):
    model = onnx_extractor.model
    texts = ["Tim Cook leads Apple in Cupertino."]
    batch = collate(
        [onnx_extractor.encoder.encode(texts[0], split_words(texts[0]), ["person"], [])]
    )
    graph = onnx_extractor.heads
    try:
        onnx_extractor.heads = None  # as when an export failed: torch runs the passes
        torch_out = onnx_extractor._forward(batch, True, False)
    finally:
        onnx_extractor.heads = graph
    assert model.encoder_loaded
    onnx_out = onnx_extractor._forward(batch, True, False)
    torch.testing.assert_close(onnx_out[0], torch_out[0], atol=1e-3, rtol=1e-3)
