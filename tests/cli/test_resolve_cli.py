"""``kgbuild explain`` (and the override commands) end to end through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgbuild.cli.main import app

TESTS = Path(__file__).resolve().parents[1]
FAKE = f"{TESTS / 'fake_extractor.py'}:FakeExtractor"


@pytest.fixture(autouse=True)
def fake_extractor(monkeypatch):
    monkeypatch.setenv("KGBUILD_EXTRACTOR", FAKE)
    for var in ("NEO4J_USERNAME", "NEO4J_PASSWORD", "NEO4J_DATABASE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Alice Smith works for Acme Inc in Paris, and Smith met Bob Jones there.\n",
        encoding="utf-8",
    )
    (folder / "b.txt").write_text("Bob Jones works for Globex Corp in Paris.\n", encoding="utf-8")
    return folder


def run(runner: CliRunner, *args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_explain_prints_aliases_merges_and_mentions(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    assert run(runner, "ingest", docs, "--store", store, "--quiet").exit_code == 0
    result = run(runner, "explain", store, "smith")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Alice Smith  (person, entity:")
    assert "'Smith' -> 'Alice Smith'  by last_name (100)" in result.output
    assert "a.txt 45-50" in result.output  # the mention "Smith", by character offsets

    data = json.loads(run(runner, "explain", store, "Alice Smith", "--json").output)
    (entity,) = data["entities"]
    assert {a["text"] for a in entity["aliases"]} == {"Alice Smith", "Smith"}
    (merge,) = entity["merges"]
    assert merge["rule"] == "last_name" and merge["mentions"][0]["start"] == 45


def test_explain_of_an_unknown_name_is_a_clear_error(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    run(runner, "ingest", docs, "--store", store, "--quiet")
    result = run(runner, "explain", store, "Nobody")
    assert result.exit_code == 1
    assert "no entity is called 'Nobody'" in result.output
    result = run(runner, "explain", tmp_path / "missing.json", "Nobody")
    assert result.exit_code == 1 and "does not exist" in result.output
