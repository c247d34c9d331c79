"""Cypher as people write it: the same rows on the NetworkX store and on the Bolt server.

The suite (``suite_queries.SUITE``, 62 read queries) runs over the example documents
ingested with the fake extractor plus the synthetic documents of ``sample_graphs``.
Without a server, every query must run on the NetworkX store and give rows (a few with
the exact rows checked by hand); with the Bolt test server (marked ``neo4j``) the same
documents are written there and every query must give identical rows (as a multiset,
or in order where the query orders them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # sample_graphs.py, suite_queries.py

from fake_extractor import FakeExtractor  # noqa: E402
from sample_graphs import entity_id, relation_id, sample_graphs  # noqa: E402
from suite_queries import SUITE, SuiteQuery  # noqa: E402

from kgbuild.pipeline import KnowledgeGraphBuilder  # noqa: E402
from kgbuild.store import CypherError, GraphStore, NetworkXStore  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "docs"
#: Queries that legitimately return no rows on this graph (none so far).
EMPTY_OK: set[str] = set()


def build(store: GraphStore) -> GraphStore:
    """The suite's graph: the example documents (fake extractor) plus the two samples."""
    store.setup_schema()
    KnowledgeGraphBuilder(store, extractor=FakeExtractor(), progress=False).ingest([EXAMPLES])
    store.write_documents(sample_graphs())
    return store


@pytest.fixture(scope="module")
def local() -> NetworkXStore:
    store = NetworkXStore(None)
    build(store)
    yield store
    store.close()


def canonical(rows: list[dict[str, Any]], ordered: bool) -> list[str]:
    """Rows as JSON text, sorted unless ordered: the columns in order, then the values
    (maps such as node properties compare without regard to key order, as in Cypher)."""
    text = [json.dumps([list(row), row], ensure_ascii=False, sort_keys=True) for row in rows]
    return text if ordered else sorted(text)


def test_the_suite_is_large_and_names_are_unique():
    assert len(SUITE) >= 40
    assert len({q.name for q in SUITE}) == len(SUITE)


@pytest.mark.parametrize("case", SUITE, ids=lambda q: q.name)
def test_query_runs_on_the_networkx_store(local, case: SuiteQuery):
    rows = local.query(case.query, case.parameters)
    assert rows or case.name in EMPTY_OK, f"{case.name}: no rows"
    assert all(isinstance(row, dict) for row in rows)


def test_rows_checked_by_hand(local):
    q = local.query
    assert q("MATCH (e:Entity {name: 'Acme Corp'}) RETURN e.id, e.mention_count") == [
        {"e.id": entity_id("Acme Corp"), "e.mention_count": 4}
    ]
    assert q(
        "MATCH (p:Person)-[:WORKS_FOR]->(o:Organization {name: 'Acme Corp'}) "
        "RETURN p.name AS name ORDER BY name"
    ) == [{"name": "Alice Smith"}, {"name": "Bob Jones"}]
    assert q(
        "MATCH (o:Organization {name: 'Acme Corp'})<-[:WORKS_FOR]-(p:Person) "
        "WITH o, p ORDER BY p.name RETURN o.name, collect(p.name) AS people"
    ) == [{"o.name": "Acme Corp", "people": ["Alice Smith", "Bob Jones"]}]
    rid = relation_id("Alice Smith", "works for", "Acme Corp")
    assert q(
        "MATCH (h)-[r]->(t) WHERE r.id = $id RETURN h.name, type(r), t.name, r.evidence_count",
        {"id": rid},
    ) == [
        {
            "h.name": "Alice Smith",
            "type(r)": "WORKS_FOR",
            "t.name": "Acme Corp",
            "r.evidence_count": 2,
        }
    ]
    assert q(
        "MATCH (e:Entity) WHERE e.name = $n RETURN count(e) AS n, collect(e.id) AS ids", {"n": "x"}
    ) == [{"n": 0, "ids": []}]
    by_type = {r["type"]: r["n"] for r in q(SUITE[2].query)}
    assert sum(by_type.values()) == q("MATCH (e:Entity) RETURN count(e)")[0]["count(e)"]
    assert by_type == {
        t: sum(
            1
            for _, d in local.graph.nodes(data=True)
            if "Entity" in d["__labels__"] and d["type"] == t
        )
        for t in by_type
    }


def test_the_copy_follows_writes(local):
    store = NetworkXStore(None)
    store.write_documents(sample_graphs()[:1])
    assert store.query("MATCH (p:Person) RETURN count(p) AS n") == [{"n": 1}]
    store.write_documents(sample_graphs()[1:])
    assert store.query("MATCH (p:Person) RETURN count(p) AS n") == [{"n": 2}]
    store.delete_documents([sample_graphs()[1].document.id])
    assert store.query("MATCH (p:Person) RETURN count(p) AS n") == [{"n": 1}]
    store.close()


@pytest.mark.parametrize(
    ("query", "construct"),
    [
        ("CREATE (n:Entity {name: 'x'})", "CREATE"),
        ("MATCH (e:Entity) SET e.name = 'x'", "SET"),
        ("MATCH (e:Entity) DETACH DELETE e", "DETACH DELETE"),
        ("MERGE (n:Entity {id: 'x'}) RETURN n", "MERGE"),
        ("MATCH (e:Entity) REMOVE e.name", "REMOVE"),
        ("CALL db.labels()", "CALL"),
        ("LOAD CSV FROM 'file:///x.csv' AS row RETURN row", "LOAD CSV"),
    ],
)
def test_writes_and_procedures_are_refused_naming_them_and_the_backend(local, query, construct):
    before = local.counts()
    with pytest.raises(CypherError, match=rf"^{construct} in query .*Neo4j backend"):
        local.query(query)
    assert local.counts() == before


def test_keywords_used_as_names_are_not_clauses(local):
    rows = local.query(
        "MATCH (m:Mention) WHERE m.text = 'Paris' "
        "RETURN m.start AS start, m.end AS set, 'CREATE' AS create ORDER BY start LIMIT 1"
    )
    assert list(rows[0]) == ["start", "set", "create"]
    assert rows[0]["create"] == "CREATE"


def test_bad_queries_and_parameters_name_the_problem(local):
    with pytest.raises(CypherError, match="MATCH \\(e:Entity\\) RETURN x.name.*embedded ArcadeDB"):
        local.query("MATCH (e:Entity) RETURN x.name")
    with pytest.raises(CypherError, match=r"parameter \$when: values of type object"):
        local.query("MATCH (e:Entity) WHERE e.name = $when RETURN e", {"when": object()})
    with pytest.raises(CypherError, match="RETURN e.type.*embedded ArcadeDB.*name"):
        local.query("MATCH (e:Entity {name: $name}) RETURN e.type")  # $name not given


# -- the same rows on the Bolt test server -------------------------------------------------


@pytest.fixture(scope="module")
def neo(bolt_server):
    from kgbuild.store.neo4j_store import Neo4jStore
    from tests.conftest import wipe_bolt_graph

    wipe_bolt_graph(bolt_server)
    server = bolt_server
    with Neo4jStore(server.uri, server.user, server.password, server.database) as store:
        build(store)
        yield store


@pytest.mark.neo4j
def test_both_stores_hold_the_same_graph(local, neo):
    assert neo.counts() == local.counts()


@pytest.mark.neo4j
@pytest.mark.parametrize("case", SUITE, ids=lambda q: q.name)
def test_query_gives_the_same_rows_on_both_stores(local, neo, case: SuiteQuery):
    expected = neo.query(case.query, case.parameters)
    got = local.query(case.query, case.parameters)
    assert canonical(got, case.ordered) == canonical(expected, case.ordered)


def test_library_queries_keep_their_grand_cypher_rows(local):
    """The cypher/ library gives the rows it gave before (grand-cypher) on the new engine."""
    from kgbuild.store.queries import list_queries

    old = NetworkXStore(None, cypher_engine="grand-cypher")
    old.graph = local.graph
    old._opened = True  # the same graph object, already open
    some_relation = local.query(
        "MATCH (:Person)-[r:WORKS_FOR]->(:Organization) RETURN r.id AS id ORDER BY id LIMIT 1"
    )[0]["id"]
    parameters = {
        "documents": {},
        "entities_by_type": {"type": "organization"},
        "entity_mentions": {"name": "Paris"},
        "entity_neighbours": {"name": "Flying University"},
        "relation_counts": {},
        "relation_evidence": {"relation_id": some_relation},
        "relation_provenance": {"relation_id": some_relation},
        "top_entities": {"limit": 20},
    }
    library = list_queries()
    assert set(library) == set(parameters)
    for name, query in library.items():
        rows = local.query(query, parameters[name])
        assert rows, name
        assert rows == old.query(query, parameters[name]), name
