"""Lazy model loading: an ingest where nothing changed never imports torch or loads the model.

The CLI runs in a fresh process (``sys.modules`` of this test process already holds
torch when other tests ran first), and reports which heavy modules it imported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_extractor import FakeExtractor

from kgbuild.extract import default_model_dir, load_extractor
from kgbuild.extract.inference.lazy import LazyExtractor, checkpoint_model_id
from kgbuild.pipeline import KnowledgeGraphBuilder, load_pipeline_extractor
from kgbuild.pipeline.api import EXTRACTOR_ENV

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
FAKE = f"{TESTS / 'fake_extractor.py'}:FakeExtractor"

# Runs `kgbuild ARGS...` in this process, then prints what it imported as one JSON line.
_CLI = """
import json, sys
from kgbuild.cli.main import app
try:
    app(sys.argv[1:], prog_name="kgbuild")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print("MODULES " + json.dumps({
    "exit": code,
    "torch": "torch" in sys.modules,
    "transformers": "transformers" in sys.modules,
    "extractor_module": "kgbuild.extract.inference.extractor" in sys.modules,
}))
"""


def run_cli(*args: str, extractor_env: str | None) -> tuple[dict, dict]:
    """(the ``--json`` summary, the modules report) of one CLI run in a new process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop(EXTRACTOR_ENV, None)
    if extractor_env:
        env[EXTRACTOR_ENV] = extractor_env
    proc = subprocess.run(
        [sys.executable, "-c", _CLI, *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("MODULES "), proc.stdout + proc.stderr
    report = json.loads(lines[-1].removeprefix("MODULES "))
    assert report["exit"] == 0, proc.stdout + proc.stderr
    return json.loads(lines[-2]), report


class CheckpointIdFake(FakeExtractor):
    """The test extractor, recording documents under the shipped checkpoint's model id."""

    model_id = checkpoint_model_id(default_model_dir())


@pytest.fixture
def docs(tmp_path, unicode_dir) -> Path:
    folder = tmp_path / "docs"
    shutil.copytree(unicode_dir, folder)
    return folder


def test_checkpoint_model_id_reads_config_without_torch(tmp_path):
    shipped = checkpoint_model_id(default_model_dir())
    assert re.fullmatch(r"kgbuild-relex-minilm@[0-9a-f]{8}", shipped)
    assert checkpoint_model_id(default_model_dir(), int8=True) == f"{shipped}-int8"
    (tmp_path / "config.json").write_text('{"max_length": 128}')
    plain = checkpoint_model_id(tmp_path)
    assert plain.startswith("kgbuild-relex@")  # ExtractorConfig's default name
    # other thresholds, or another training run, give the checkpoint another id
    (tmp_path / "config.json").write_text('{"max_length": 128, "entity_threshold": 0.3}')
    retuned = checkpoint_model_id(tmp_path)
    (tmp_path / "training.json").write_text('{"train_seconds": 12.5}')
    retrained = checkpoint_model_id(tmp_path)
    assert len({plain, retuned, retrained}) == 3
    (tmp_path / "config.json").write_text('{"entity_threshold": 0.3,  "max_length": 128}')
    assert checkpoint_model_id(tmp_path) == retrained  # the same content, laid out otherwise
    (tmp_path / "training.json").unlink()
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        checkpoint_model_id(tmp_path)
    with pytest.raises(FileNotFoundError, match="no extractor checkpoint"):
        checkpoint_model_id(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no extractor checkpoint"):
        load_pipeline_extractor(tmp_path / "missing")  # fails at once, lazy or not


def test_pipeline_extractor_is_lazy(monkeypatch):
    monkeypatch.delenv(EXTRACTOR_ENV, raising=False)
    extractor = load_pipeline_extractor()
    assert isinstance(extractor, LazyExtractor)
    assert not extractor.loaded
    assert extractor.model_id == checkpoint_model_id(default_model_dir())
    assert "not loaded" in repr(extractor)
    assert not extractor.loaded


def test_unchanged_rerun_with_test_extractor_imports_no_torch(docs, tmp_path):
    store = tmp_path / "graph.json"
    first, _ = run_cli("ingest", str(docs), "--store", str(store), extractor_env=FAKE)
    assert first["documents"]["new"] == 3  # .gitattributes is not a document
    again, modules = run_cli("ingest", str(docs), "--store", str(store), extractor_env=FAKE)
    assert again["documents"]["unchanged"] == first["documents"]["new"]
    assert again["documents"]["new"] == again["documents"]["changed"] == 0
    assert not modules["torch"] and not modules["transformers"], modules


def test_unchanged_rerun_with_default_model_never_loads_it(docs, tmp_path):
    # The store is built by the test extractor under the shipped model's id and the default
    # schema, so with --reextract a re-run extracts only if the id or schema differs.
    store = tmp_path / "graph.json"
    first = KnowledgeGraphBuilder(store, extractor=CheckpointIdFake(), progress=False).ingest(docs)
    assert first.documents.new > 0 and first.model_id == checkpoint_model_id(default_model_dir())
    summary, modules = run_cli(
        "ingest", str(docs), "--store", str(store), "--reextract", extractor_env=None
    )
    assert summary["model_id"] == checkpoint_model_id(default_model_dir())
    assert summary["documents"]["unchanged"] == first.documents.new
    assert summary["documents"]["reextracted"] == 0
    assert modules == {
        "exit": 0,
        "torch": False,
        "transformers": False,
        "extractor_module": False,
    }


def test_relation_labels_option_reaches_the_model_without_loading_it(docs, tmp_path):
    store = tmp_path / "graph.json"
    KnowledgeGraphBuilder(store, extractor=CheckpointIdFake(), progress=False).ingest(docs)
    # int8 weights give other scores, so they name another model id; nothing changed,
    # so nothing loads
    summary, modules = run_cli(
        "ingest", str(docs), "--store", str(store), "--int8", extractor_env=None
    )  # fmt: skip
    assert summary["model_id"] == checkpoint_model_id(default_model_dir(), int8=True)
    assert not modules["torch"] and not modules["extractor_module"], modules
    # the layouts read every schema that fits one pass alike: one id (auto: hybrid's
    # name before the layouts were renamed, still accepted)
    for layout in ("prompt", "HYBRID", "auto"):
        summary, _ = run_cli(
            "ingest", str(docs), "--store", str(store), "--relation-labels", layout,
            extractor_env=None,
        )  # fmt: skip
        assert summary["model_id"] == checkpoint_model_id(default_model_dir())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(EXTRACTOR_ENV, None)
    bad = subprocess.run(
        [sys.executable, "-c", "from kgbuild.cli.main import app; app(prog_name='kgbuild')",
         "ingest", str(docs), "--store", str(store),
         "--relation-labels", "sideways"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 1, bad.stderr
    assert "--relation-labels: unknown relation-label layout 'sideways': use hybrid, prompt" in (
        bad.stderr
    )


@pytest.mark.slow
def test_lazy_extractor_loads_when_a_document_needs_extraction(docs, tmp_path):
    store = tmp_path / "graph.json"
    KnowledgeGraphBuilder(store, extractor=CheckpointIdFake(), progress=False).ingest(docs)
    lazy = load_extractor(lazy=True)
    assert isinstance(lazy, LazyExtractor)

    unchanged = KnowledgeGraphBuilder(store, extractor=lazy, progress=False).ingest(docs)
    assert unchanged.documents.new == 0 and unchanged.documents.unchanged > 0
    assert not lazy.loaded

    (docs / "new.txt").write_text("Tim Cook is the chief executive of Apple in Cupertino.")
    summary = KnowledgeGraphBuilder(store, extractor=lazy, progress=False).ingest(docs)
    assert lazy.loaded
    assert summary.documents.new == 1 and summary.model_id == lazy.model_id
    assert lazy.load().model_id == lazy.model_id  # the promised id is the loaded one
    assert lazy.config.max_length > 0  # attributes of the loaded extractor pass through
    found = lazy.extract(["Tim Cook is the chief executive of Apple."], ["person"], [])[0]
    assert ("Tim Cook", "person") in {(e.text, e.label) for e in found.entities}
