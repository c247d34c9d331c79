"""The one-call API: kgbuild.build(), kgbuild.extract_text(), and a fast `import kgbuild`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from pipeline_helpers import load_graph, nodes

import kgbuild
from kgbuild.pipeline import api

LONG_TEXT = " ".join(
    f"Person{i} Müller works for Firm{i} Inc in Zürich; rain falls in Paris 🌧 today."
    for i in range(40)
)


def test_extract_text_chunks_long_text_and_keeps_offsets():
    out = kgbuild.extract_text(
        LONG_TEXT,
        ["person", "organization", "location"],
        ["works for", "located in"],
        extractor=FakeExtractor(window=40),
    )
    assert out.model_id == "fake-regex-1"
    for e in out.entities:
        assert LONG_TEXT[e.start : e.end] == e.text
    starts = [(e.start, e.end, e.label) for e in out.entities]
    assert len(starts) == len(set(starts)), "overlap copies must be merged"
    people = [e.text for e in out.entities if e.label == "person"]
    assert len(people) == 40 and people[0] == "Person0 Müller" and people[-1] == "Person39 Müller"
    assert ("Person39 Müller", "works for", "Firm39 Inc") in out.triplets()
    assert out.model_dump()["relations"][0]["head"]["text"]  # JSON-ready


def test_extract_text_defaults_and_empty_text():
    out = kgbuild.extract_text("   ", extractor=FakeExtractor())
    assert out.entities == [] and out.relations == []
    with pytest.raises(TypeError):
        kgbuild.extract_text(b"bytes", extractor=FakeExtractor())  # type: ignore[arg-type]


def test_extractor_from_environment_variable(monkeypatch):
    path = Path(__file__).resolve().parents[1] / "fake_extractor.py"
    monkeypatch.setenv(api.EXTRACTOR_ENV, f"{path}:FakeExtractor")
    extractor = api.load_pipeline_extractor()
    assert extractor.model_id == "fake-regex-1"
    monkeypatch.setenv(api.EXTRACTOR_ENV, "no_such_module_xyz:Thing")
    with pytest.raises(ValueError, match="cannot import no_such_module_xyz"):
        api.load_pipeline_extractor()
    monkeypatch.setenv(api.EXTRACTOR_ENV, "nocolon")
    with pytest.raises(ValueError, match="expected"):
        api.load_pipeline_extractor()


def test_build_routes_keywords_to_builder_and_config(tmp_path, unicode_dir):
    store = tmp_path / "graph.json"
    summary = kgbuild.build(
        unicode_dir,
        store=str(store),
        entity_types=["person", "organization"],
        relation_types=["works for"],
        extractor=FakeExtractor(),
        progress=False,
        batch_size=2,
        prune=True,
    )
    assert summary.documents.new == 3 and summary.ok
    labels = {e["type"] for e in nodes(load_graph(store), "Entity")}
    assert labels == {"person", "organization"}
    with pytest.raises(TypeError, match="no_such_option"):
        kgbuild.build(unicode_dir, store=str(store), no_such_option=1)


def test_import_kgbuild_is_fast_and_loads_no_torch():
    code = "import sys, kgbuild; kgbuild.KnowledgeGraphBuilder; print('torch' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert out.stdout.strip() == "False"
