"""``kgbuild view`` on the command line."""

from __future__ import annotations

import json

import pytest
from sample_graphs import sample_graphs
from test_view_data import write_store
from typer.testing import CliRunner

from kgbuild.cli.main import app


@pytest.fixture
def store(tmp_path):
    return write_store(tmp_path / "sample.json", sample_graphs())


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_view_writes_the_page_and_says_what_it_left_out(store, tmp_path):
    out = tmp_path / "page.html"
    result = run("view", store, "-o", out, "--limit", "2")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"wrote {out}: 2 entities, 1 relations; left out by --limit 2: 2 entities, 2 relations"
    )
    assert 'id="kgbuild-data"' in out.read_text(encoding="utf-8")


def test_view_json_and_selections(store, tmp_path):
    out = tmp_path / "p.html"
    result = run("view", store, "-o", out, "--entity", "Paris", "--hops", "2", "--json")
    assert json.loads(result.output) == {
        "output": str(out),
        "entities": 4,
        "relations": 3,
        "entities_left_out": 0,
        "relations_left_out": 0,
    }
    by_type = json.loads(run("view", store, "-o", out, "--type", "person", "--json").output)
    assert by_type["entities"] == 2
    # a query from the library, by name, with a parameter
    top = run("view", store, "-o", out, "--query", "top_entities", "-p", "limit=3", "--json")
    assert json.loads(top.output)["entities"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entity", "Nobody Atall"], "no entity named 'Nobody Atall'"),
        (["--type", "widget"], "no entities of type 'widget'"),
        (
            ["--entity", "Paris", "--type", "person"],
            "at most one of --query, --entity, --type (got --entity --type)",
        ),
        (["--query", "MATCH (e:Entity RETURN e"], "failed on the NetworkX store's Cypher engine"),
    ],
)
def test_view_user_errors_are_one_line(store, tmp_path, args, message):
    result = run("view", store, "-o", tmp_path / "x.html", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "x.html").exists()


def test_view_of_a_missing_store(tmp_path):
    result = run("view", tmp_path / "none.json", "-o", tmp_path / "x.html")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_view_of_a_bolt_server(empty_bolt_graph, tmp_path):
    from kgbuild.store.neo4j_store import Neo4jStore

    server = empty_bolt_graph
    with Neo4jStore(server.uri, server.user, server.password, server.database) as store:
        store.setup_schema()
        store.write_documents(sample_graphs())
    out = tmp_path / "bolt.html"
    args = ["view", server.uri, "-o", out, "--user", server.user, "--password", server.password]
    if server.database:
        args += ["--database", server.database]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["entities"] == 4
    assert server.password not in out.read_text(encoding="utf-8")
