"""The kgbuild command line, end to end through typer's CliRunner.

The extractor is the deterministic test extractor, chosen the way users can
choose any extractor class: ``KGBUILD_EXTRACTOR=tests/fake_extractor.py:FakeExtractor``.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from typer.main import get_command
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
    shutil.copytree(TESTS / "data" / "unicode", folder)
    (folder / "people.txt").write_text(
        "Alice Smith works for Acme Inc, and Bob Jones works for Acme Inc in Paris.",
        encoding="utf-8",
    )
    return folder


def run(runner: CliRunner, *args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_json(text: str) -> dict:
    """The output must be exactly one JSON object."""
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def test_ingest_json_then_incremental_rerun(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    result = run(runner, "ingest", docs, "--store", store, "--json")
    assert result.exit_code == 0, result.output
    summary = one_json(result.stdout)
    assert summary["documents"]["new"] == 4 and summary["documents"]["failed"] == 0
    assert summary["graph"]["documents"] == 4 and summary["mentions"] > 0
    assert summary["model_id"] == "fake-regex-1"

    again = one_json(run(runner, "ingest", docs, "--store", store, "--json").stdout)
    assert again["documents"]["unchanged"] == 4 and again["documents"]["new"] == 0


def test_ingest_reads_the_graph_file_once(runner, docs, tmp_path, monkeypatch):
    from kgbuild.store import networkx_store

    store = tmp_path / "graph.json"
    assert run(runner, "ingest", docs, "--store", store, "--json").exit_code == 0
    reads = []
    real_read = networkx_store._read_graph
    monkeypatch.setattr(
        networkx_store, "_read_graph", lambda path: reads.append(path) or real_read(path)
    )
    again = one_json(run(runner, "ingest", docs, "--store", store, "--json").stdout)
    assert again["documents"]["unchanged"] == 4
    assert reads == [store]  # under the run lock, not once before it and again after


def test_ingest_text_summary_types_and_globs(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    result = run(
        runner,
        "ingest",
        docs,
        "--store",
        store,
        "--entity-types",
        "person, organization",
        "--relation-types",
        "works for",
        "--include",
        "*.txt",
        "--batch-size",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "documents: 3 new" in result.stdout  # tokyo_journal.md excluded by --include
    rows = one_json(
        run(runner, "query", store, "MATCH (e:Entity) RETURN e.type AS type", "--json").stdout
    )["rows"]
    assert {r["type"] for r in rows} == {"person", "organization"}


def test_ingest_schema_file_and_conflicting_options(runner, docs, tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"entity_types": ["person"], "relation_types": []}), "utf-8")
    store = tmp_path / "graph.json"
    ok = run(runner, "ingest", docs, "--store", store, "--schema", schema, "--json")
    assert ok.exit_code == 0, ok.output
    bad = run(runner, "ingest", docs, "--store", store, "--schema", schema, "-e", "person")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == (
        "Error: give either --schema or --entity-types/--relation-types, not both"
    )


def test_ingest_bad_files_exit_3_with_the_rest_written(runner, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Alice Smith works for Acme Inc.", encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"\xef\xbb\xbfCaf\xe9")  # a UTF-8 BOM, then cp1252
    (folder / "rows.jsonl").write_text('{"id": 1, "text": "Bob Jones"}\n{oops\n', "utf-8")
    store = tmp_path / "graph.json"
    result = run(runner, "ingest", folder, tmp_path / "missing.md", "--store", store, "--json")
    assert result.exit_code == 3
    summary = one_json(result.stdout)
    assert summary["documents"]["new"] == 2
    reasons = sorted(f["reason"] for f in summary["failures"])
    assert reasons[0].startswith("line 2: not valid JSON")
    assert "not found" in reasons and any("UTF-8" in r for r in reasons)


def test_ingest_prune_removes_deleted_documents(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    run(runner, "ingest", docs, "--store", store, "--json")
    (docs / "people.txt").unlink()
    kept = one_json(run(runner, "ingest", docs, "--store", store, "--json").stdout)
    assert kept["documents"]["deleted"] == 1 and kept["graph"]["documents"] == 4
    pruned = one_json(run(runner, "ingest", docs, "--store", store, "--prune", "--json").stdout)
    assert pruned["documents"]["pruned"] == 1 and pruned["graph"]["documents"] == 3


def test_ingest_user_errors_are_one_line(runner, docs, tmp_path):
    bad_type = run(runner, "ingest", docs, "--store", tmp_path / "g.json", "-e", "person;drop")
    assert bad_type.exit_code == 1
    assert bad_type.stderr.startswith("Error: ") and "person;drop" in bad_type.stderr
    assert "Traceback" not in bad_type.output and len(bad_type.stderr.splitlines()) == 1

    bad_store = run(runner, "ingest", docs, "--store", tmp_path / "graph.txt")
    assert bad_store.exit_code == 1 and "is not a graph store" in bad_store.stderr

    no_folder = run(runner, "ingest", docs, "--store", tmp_path / "nope" / "graph.json")
    assert no_folder.exit_code == 1 and "does not exist" in no_folder.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_password_is_never_printed(runner, docs):
    secret = "s3cret-Pa55word"
    uri = f"bolt://127.0.0.1:{_closed_port()}"
    result = run(
        runner, "ingest", docs, "--store", uri, "--user", "neo4j", "--password", secret, "--json"
    )
    assert result.exit_code == 1
    assert secret not in result.output
    assert result.stdout == "" and result.stderr.startswith("Error: ")
    verbose = runner.invoke(
        app, ["--verbose", "query", uri, "RETURN 1", "--password", secret], catch_exceptions=False
    )
    assert verbose.exit_code == 1 and secret not in verbose.output


def test_query_library_names_params_and_files(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    run(runner, "ingest", docs, "--store", store, "--json")

    by_type = run(runner, "query", store, "entities_by_type", "--param", "type=person", "--json")
    assert by_type.exit_code == 0, by_type.output
    rows = one_json(by_type.stdout)["rows"]
    assert {"Alice Smith", "Bob Jones"} <= {r["name"] for r in rows}
    assert all(r["type"] == "person" for r in rows)

    neighbours = one_json(
        run(runner, "query", store, "entity_neighbours", "-p", "name=Acme Inc", "--json").stdout
    )
    assert ("Alice Smith", "WORKS_FOR", "Acme Inc") in {
        (r["head"], r["relation"], r["tail"]) for r in neighbours["rows"]
    }

    query_file = tmp_path / "count.cypher"
    query_file.write_text("MATCH (d:Document) RETURN COUNT(d) AS n", encoding="utf-8")
    counted = one_json(run(runner, "query", store, query_file, "--json").stdout)
    assert counted["rows"] == [{"n": 4}]

    table = run(runner, "query", store, "top_entities", "--param", "limit=3")
    assert table.exit_code == 0 and "3 row(s)" in table.stdout


def test_query_errors(runner, tmp_path):
    missing = run(runner, "query", tmp_path / "none.json", "MATCH (n) RETURN n")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    store = tmp_path / "graph.json"
    store.write_text(
        '{"directed": true, "multigraph": true, "graph": {}, "nodes": [], "edges": []}',
        encoding="utf-8",
    )
    unknown = run(runner, "query", store, "no_such_query")
    assert unknown.exit_code == 1 and "no query named 'no_such_query'" in unknown.stderr
    bad_param = run(runner, "query", store, "MATCH (n) RETURN n", "--param", "oops")
    assert bad_param.exit_code == 1 and "NAME=VALUE" in bad_param.stderr


def test_export_graphml_and_json(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    run(runner, "ingest", docs, "--store", store, "--json")
    graphml = tmp_path / "out.graphml"
    result = run(runner, "export", store, "--format", "graphml", "--output", graphml, "--json")
    assert result.exit_code == 0, result.output
    assert one_json(result.stdout)["counts"]["documents"] == 4
    assert graphml.read_text(encoding="utf-8").lstrip().startswith("<graphml")
    node_link = tmp_path / "copy.json"
    assert run(runner, "export", store, "--format", "json", "-o", node_link).exit_code == 0
    assert json.loads(node_link.read_text(encoding="utf-8"))["nodes"]
    wrong = run(runner, "export", store, "--format", "csv", "-o", tmp_path / "x.csv")
    assert wrong.exit_code == 1 and "use graphml or json" in wrong.stderr


def test_extract_text_and_file(runner, tmp_path):
    result = run(runner, "extract", "--text", "Alice Smith works for Acme Inc in Paris.", "--json")
    assert result.exit_code == 0, result.output
    out = one_json(result.stdout)
    assert [e["text"] for e in out["entities"]] == ["Alice Smith", "Acme Inc", "Paris"]
    assert [(r["head"]["text"], r["relation"], r["tail"]["text"]) for r in out["relations"]] == [
        ("Alice Smith", "works for", "Acme Inc"),
        ("Acme Inc", "located in", "Paris"),
    ]
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>Zoë Ångström works for Acme Inc.</p></body></html>", "utf-8")
    text = run(runner, "extract", "--file", page, "-e", "organization")
    assert text.exit_code == 0 and "Acme Inc" in text.stdout and "person" not in text.stdout
    both = run(runner, "extract", "--text", "x", "--file", page)
    assert both.exit_code == 1 and "exactly one of --text or --file" in both.stderr


def test_train_and_eval_report_missing_files(runner, tmp_path):
    train = run(runner, "train", "--config", tmp_path / "none.json")
    assert train.exit_code == 1 and "does not exist" in train.stderr
    config = tmp_path / "stage.json"
    config.write_text("{}")
    alone = run(runner, "train", "--config", config, "--model", tmp_path)
    assert alone.exit_code == 1 and "--model and --unseen-only go with --retune" in alone.stderr
    empty = run(runner, "train", "--config", config, "--retune", "--model", tmp_path)
    assert empty.exit_code == 1 and f"--model {tmp_path}: no checkpoint" in empty.stderr
    evaluation = run(runner, "eval", tmp_path / "dev.json", "--types", tmp_path / "t.json")
    assert evaluation.exit_code == 1 and "does not exist" in evaluation.stderr


def test_every_command_and_option_has_help(runner):
    command = get_command(app)
    assert {"ingest", "extract", "query", "export", "view", "train", "eval"} <= set(
        command.commands
    )
    for name, sub in command.commands.items():
        assert sub.help, f"{name} has no help"
        options = [p for p in sub.params if p.param_type_name == "option"]
        assert options or name == "train"
        for param in options:
            assert param.help, f"{name} {param.opts} has no help"
        result = run(runner, name, "--help")
        assert result.exit_code == 0


def test_version(runner):
    import kgbuild

    assert run(runner, "--version").stdout.strip() == f"kgbuild {kgbuild.__version__}"


def test_offsets_survive_the_cli(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    run(runner, "ingest", docs, "--store", store, "--json")
    graph = json.loads(store.read_text(encoding="utf-8"))
    texts = {n["id"]: n["text"] for n in graph["nodes"] if "Document" in n["__labels__"]}
    mentions = [n for n in graph["nodes"] if "Mention" in n["__labels__"]]
    assert mentions
    for m in mentions:
        assert texts[m["document_id"]][m["start"] : m["end"]] == m["text"]


@pytest.mark.neo4j
def test_ingest_and_query_on_the_bolt_server(runner, docs, empty_bolt_graph):
    server = empty_bolt_graph
    auth = ["--user", server.user, "--password", server.password]
    if server.database:
        auth += ["--database", server.database]
    result = run(runner, "ingest", docs, "--store", server.uri, *auth, "--json")
    assert result.exit_code == 0, result.output
    assert one_json(result.stdout)["graph"]["documents"] == 4
    assert server.password not in result.output
    rows = one_json(
        run(
            runner, "query", server.uri, "entities_by_type", "-p", "type=person", *auth, "--json"
        ).stdout
    )["rows"]
    assert {"Alice Smith", "Bob Jones"} <= {r["name"] for r in rows}
    again = one_json(run(runner, "ingest", docs, "--store", server.uri, *auth, "--json").stdout)
    assert again["documents"]["unchanged"] == 4


DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def test_eval_reads_new_formats_and_constraints(runner, tmp_path):
    if not DATASETS.is_dir():
        pytest.skip(f"benchmark datasets not found at {DATASETS}")
    source = DATASETS / "re3d" / "Delegation of the European Union to Syria"
    out = run(runner, "eval", source, "--format", "re3d", "--json")
    assert out.exit_code == 0, out.stderr
    scores = json.loads(out.stdout)
    assert scores["examples"] > 0 and "ner_micro_f1" in scores
    assert "location" in scores["ner"]["per_type"]
    bad = tmp_path / "rules.json"
    bad.write_text("[1, 2]")
    res = run(runner, "eval", source, "--format", "re3d", "--constraints", bad)
    assert res.exit_code == 1 and "expected a JSON object" in res.stderr
    res = run(runner, "eval", source, "--format", "nope")
    assert res.exit_code == 1 and "webnlg" in res.stderr


#: Queries as people type them, with parameters as the CLI takes them.
CLI_QUERIES = [
    ("MATCH (e:Entity) RETURN count(e)", []),
    ("MATCH (p:Person)-[:WORKS_FOR]->(o {name: 'Acme Inc'}) RETURN p.name ORDER BY p.name", []),
    (
        "MATCH (e:Entity) WHERE toLower(e.name) CONTAINS $part "
        "OPTIONAL MATCH (e)-[r]->(t) RETURN e.name AS name, collect(type(r)) AS rels "
        "ORDER BY name",
        ["-p", "part=acme"],
    ),
    ("entities_by_type", ["-p", "type=person"]),
    ("MATCH (e:Entity) WHERE e.name IN $names RETURN e.type", ["-p", 'names=["Paris", "x"]']),
]


def test_query_runs_cypher_as_people_write_it(runner, docs, tmp_path):
    store = tmp_path / "graph.json"
    assert run(runner, "ingest", docs, "--store", store).exit_code == 0
    counted = one_json(run(runner, "query", store, CLI_QUERIES[0][0], "--json").stdout)
    assert counted["count"] == 1 and counted["rows"][0]["count(e)"] > 0
    staff = one_json(run(runner, "query", store, CLI_QUERIES[1][0], "--json").stdout)
    assert staff["rows"] == [{"p.name": "Alice Smith"}, {"p.name": "Bob Jones"}]
    refused = run(runner, "query", store, "MATCH (e:Entity) DETACH DELETE e")
    assert refused.exit_code == 1
    assert "Error: DETACH DELETE in query" in refused.stderr and "Neo4j backend" in refused.stderr


@pytest.mark.neo4j
def test_query_gives_the_same_output_on_both_stores(runner, docs, tmp_path, empty_bolt_graph):
    server = empty_bolt_graph
    auth = ["--user", server.user, "--password", server.password]
    if server.database:
        auth += ["--database", server.database]
    local = tmp_path / "graph.json"
    assert run(runner, "ingest", docs, "--store", local).exit_code == 0
    assert run(runner, "ingest", docs, "--store", server.uri, *auth).exit_code == 0
    for query, params in CLI_QUERIES:
        on_file = run(runner, "query", local, query, *params, "--json")
        on_server = run(runner, "query", server.uri, query, *params, *auth, "--json")
        assert on_file.exit_code == on_server.exit_code == 0, on_file.output + on_server.output
        assert one_json(on_file.stdout) == one_json(on_server.stdout), query
        assert run(runner, "query", local, query, *params).stdout == (
            run(runner, "query", server.uri, query, *params, *auth).stdout
        )


def test_ingest_and_query_print_no_start_up_noise(docs, tmp_path):
    # In processes of their own (the JVM and the weights load once per process): what a
    # user pipes gets the rows and the summary, not the JVM's notice about its incubator
    # modules or a weight-loading bar.
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "KGBUILD_EXTRACTOR": FAKE}
    store = tmp_path / "graph.json"

    def cli(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "kgbuild.cli.main", *args],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    ingested = cli("ingest", str(docs), "--store", str(store), "--quiet")
    rows = cli("query", str(store), "top_entities", "-p", "limit=3", "--json")
    assert one_json(rows.stdout)["rows"]
    for done in (ingested, rows):
        assert "incubator" not in done.stderr and "Loading weights" not in done.stderr
        assert done.stderr.strip() == "", done.stderr
