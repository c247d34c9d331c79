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


def _entities(store: Path) -> dict[str, list[str]]:
    data = json.loads(store.read_text(encoding="utf-8"))
    return {
        n["name"]: sorted(n["aliases"])
        for n in data["nodes"]
        if "Entity" in n["__labels__"] and n["type"] == "organization"
    }


def test_merge_and_split_write_the_overrides_file_and_apply_it(runner, docs, tmp_path):
    store, overrides = tmp_path / "graph.json", tmp_path / "overrides.json"
    run(runner, "ingest", docs, "--store", store, "--quiet")
    assert set(_entities(store)) == {"Acme Inc", "Globex Corp"}

    result = run(
        runner, "merge", "Acme Inc", "Globex Corp", "--overrides", overrides, "--store", store
    )
    assert result.exit_code == 0, result.output
    assert "re-resolved 2 document(s)" in result.output
    assert json.loads(overrides.read_text()) == {
        "same": [["Acme Inc", "Globex Corp"]],
        "different": [],
    }
    assert _entities(store) == {"Globex Corp": ["Acme Inc", "Globex Corp"]}
    explained = run(runner, "explain", store, "Acme Inc").output
    assert "by override_same (100); overrides: same" in explained

    # The next ingest with the file keeps it and writes nothing.
    again = json.loads(
        run(runner, "ingest", docs, "--store", store, "--overrides", overrides, "--json").output
    )
    assert again["documents"]["unchanged"] == 2 and again["documents"]["changed"] == 0

    result = run(
        runner, "split", "globex corp", "acme inc", "--overrides", overrides, "--store", store
    )
    assert result.exit_code == 0, result.output
    assert "removed same[0]" in result.output
    assert json.loads(overrides.read_text())["same"] == []
    assert set(_entities(store)) == {"Acme Inc", "Globex Corp"}


def test_merge_refuses_a_bad_overrides_file_and_changes_nothing(runner, docs, tmp_path):
    store, overrides = tmp_path / "graph.json", tmp_path / "overrides.json"
    run(runner, "ingest", docs, "--store", store, "--quiet")
    before = store.read_bytes()
    overrides.write_text('{"same": [["Acme Inc"]]}')
    result = run(runner, "merge", "A", "B", "--overrides", overrides, "--store", store)
    assert result.exit_code == 1
    assert 'same[0] ["Acme Inc"]: an entry needs two or more names' in result.output
    result = run(runner, "ingest", docs, "--store", store, "--overrides", overrides)
    assert result.exit_code == 1 and "an entry needs two or more names" in result.output
    assert store.read_bytes() == before and overrides.read_text() == '{"same": [["Acme Inc"]]}'
