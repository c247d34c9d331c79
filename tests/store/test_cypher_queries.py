"""The cypher/ query library, and the grand-cypher engine of the NetworkX store.

Every library query is checked row by row on the two sample documents (on the store's
default engine, embedded ArcadeDB); the last test runs the same queries on the Bolt test
server (Neo4jStore) and expects the same rows. The middle part tests the adapter around
grand-cypher (``cypher_engine="grand-cypher"``). Cypher as people write it is in
test_cypher_suite.py.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import networkx as nx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # sample_graphs.py is a plain module here

from sample_graphs import (  # noqa: E402
    document_a,
    document_b,
    entity_id,
    make_document,
    relation_id,
    sample_graphs,
)

from kgbuild.store import CypherError, NetworkXStore  # noqa: E402
from kgbuild.store.cypher_networkx import bind_parameters, run_cypher  # noqa: E402
from kgbuild.store.queries import list_queries, load_query, queries_dir  # noqa: E402

LIBRARY = {
    "documents",
    "entities_by_type",
    "entity_mentions",
    "entity_neighbours",
    "relation_counts",
    "relation_evidence",
    "relation_provenance",
    "top_entities",
}

WORKS_FOR = relation_id("Alice Smith", "works for", "Acme Corp")
LOCATED_IN = relation_id("Acme Corp", "located in", "Paris")
BOB_WORKS_FOR = relation_id("Bob Jones", "works for", "Acme Corp")

#: Parameters for each library query in the tests.
PARAMETERS = {
    "documents": {},
    "entities_by_type": {"type": "person"},
    "entity_mentions": {"name": "Alice Smith"},
    "entity_neighbours": {"name": "Acme Corp"},
    "relation_counts": {},
    "relation_evidence": {"relation_id": WORKS_FOR},
    "relation_provenance": {"relation_id": WORKS_FOR},
    "top_entities": {"limit": 3},
}


@pytest.fixture(scope="module")
def store() -> NetworkXStore:
    store = NetworkXStore(None)
    store.model_id = "test-model"
    store.write_documents(sample_graphs())
    return store


@pytest.fixture(scope="module")
def grand_store() -> NetworkXStore:
    """The same graph, queried through grand-cypher instead of the embedded engine."""
    store = NetworkXStore(None, cypher_engine="grand-cypher")
    store.model_id = "test-model"
    store.write_documents(sample_graphs())
    return store


# -- the library itself -------------------------------------------------------------------


def test_library_lists_every_query_but_the_schema():
    queries = list_queries()
    assert set(queries) == LIBRARY
    assert queries_dir() == Path(__file__).resolve().parents[2] / "cypher"
    assert load_query("top_entities") == queries["top_entities"]
    assert load_query("top_entities.cypher") == queries["top_entities"]


@pytest.mark.parametrize("name", ["schema", "nope", "../cypher/top_entities", ""])
def test_unknown_query_names_the_available_ones(name):
    with pytest.raises(KeyError, match="available: documents, entities_by_type"):
        load_query(name)


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_query_documents_its_parameters(name):
    text = load_query(name)
    header = "\n".join(line for line in text.splitlines() if line.startswith("//"))
    assert header.startswith(f"// {name}: ")
    code = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    used = set(re.findall(r"\$([A-Za-z_]\w*)", code))
    assert used == set(PARAMETERS[name])
    for parameter in used:
        assert f"${parameter}" in header
    if not used:
        assert "Parameters: none." in header


def test_queries_dir_can_be_overridden(tmp_path, monkeypatch):
    (tmp_path / "mine.cypher").write_text("MATCH (d:Document) RETURN d.id", encoding="utf-8")
    monkeypatch.setenv("KGBUILD_CYPHER_DIR", str(tmp_path))
    assert list_queries() == {"mine": "MATCH (d:Document) RETURN d.id"}
    monkeypatch.setenv("KGBUILD_CYPHER_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="KGBUILD_CYPHER_DIR"):
        queries_dir()


# -- each query's rows on the NetworkX store ---------------------------------------------


def run(store: NetworkXStore, query_name: str, **parameters) -> list[dict]:
    return store.query(load_query(query_name), parameters or PARAMETERS[query_name])


def test_documents(store):
    rows = run(store, "documents")
    a, b = document_a().document, document_b().document
    assert [(r["id"], r["source"], r["chunks"], r["content_hash"]) for r in rows] == [
        (a.id, "a.txt", 2, a.content_hash),
        (b.id, "b.txt", 2, b.content_hash),
    ]
    assert list(rows[0]) == [
        "id",
        "source",
        "chunks",
        "content_hash",
        "model_id",
        "schema_fingerprint",
        "kgbuild_version",
        "ingested_at",
    ]
    assert {r["model_id"] for r in rows} == {"test-model"}
    assert {r["schema_fingerprint"] for r in rows} == {None}


def test_entities_by_type(store):
    assert run(store, "entities_by_type") == [
        {
            "id": entity_id("Alice Smith"),
            "name": "Alice Smith",
            "type": "person",
            "mentions": 2,
            "aliases": ["Alice Smith"],
        },
        {
            "id": entity_id("Bob Jones"),
            "name": "Bob Jones",
            "type": "person",
            "mentions": 1,
            "aliases": ["Bob Jones"],
        },
    ]
    assert run(store, "entities_by_type", type="organization")[0]["aliases"] == [
        "Acme",
        "Acme Corp",
    ]
    assert run(store, "entities_by_type", type="work of art") == []


def test_top_entities(store):
    assert [(r["name"], r["mentions"]) for r in run(store, "top_entities")] == [
        ("Acme Corp", 4),
        ("Alice Smith", 2),
        ("Bob Jones", 1),  # ties with Paris, first by name
    ]
    assert len(run(store, "top_entities", limit=10)) == 4


def test_entity_neighbours_in_both_directions(store):
    rows = run(store, "entity_neighbours")
    assert [(r["head"], r["relation"], r["tail"], r["score"], r["evidence"]) for r in rows] == [
        ("Alice Smith", "WORKS_FOR", "Acme Corp", 0.9, 2),
        ("Acme Corp", "LOCATED_IN", "Paris", 0.8, 1),
        ("Bob Jones", "WORKS_FOR", "Acme Corp", 0.7, 1),
    ]
    assert [r["relation_id"] for r in rows] == [WORKS_FOR, LOCATED_IN, BOB_WORKS_FOR]
    assert [r["tail"] for r in run(store, "entity_neighbours", name="Paris")] == ["Paris"]


def test_relation_counts(store):
    assert run(store, "relation_counts") == [
        {"relation": "WORKS_FOR", "relations": 2, "evidence": 3},
        {"relation": "LOCATED_IN", "relations": 1, "evidence": 1},
    ]


def test_entity_mentions_slice_the_document_text(store):
    rows = run(store, "entity_mentions")
    texts = {g.document.id: g.document.text for g in sample_graphs()}
    assert [(r["source"], r["chunk_index"], r["start"], r["end"]) for r in rows] == [
        ("a.txt", 0, 0, 11),
        ("b.txt", 1, 31, 42),
    ]
    assert [(r["page"], r["section"]) for r in rows] == [(None, "People"), (2, None)]
    for row in rows:
        assert row["label"] == "person"
        assert texts[row["document_id"]][row["start"] : row["end"]] == row["text"]
    assert len(run(store, "entity_mentions", name="Acme Corp")) == 4


def test_relation_evidence_and_provenance_agree(store):
    (evidence,) = run(store, "relation_evidence")
    a, b = document_a(), document_b()
    by_document = {
        a.document.id: (a.chunks[0].id, a.mentions[0].id, a.mentions[1].id, 0.9),
        b.document.id: (b.chunks[1].id, b.mentions[2].id, b.mentions[3].id, 0.6),
    }
    assert (evidence["head"], evidence["relation"], evidence["tail"]) == (
        "Alice Smith",
        "WORKS_FOR",
        "Acme Corp",
    )
    assert evidence["score"] == 0.9
    for i, doc_id in enumerate(evidence["document_ids"]):
        assert (
            evidence["chunk_ids"][i],
            evidence["head_mention_ids"][i],
            evidence["tail_mention_ids"][i],
            evidence["evidence_scores"][i],
        ) == by_document[doc_id]

    rows = run(store, "relation_provenance")
    texts = {g.document.id: g.document.text for g in (a, b)}
    assert [(r["source"], r["chunk_index"], r["head_text"], r["tail_text"]) for r in rows] == [
        ("a.txt", 0, "Alice Smith", "Acme Corp"),
        ("b.txt", 1, "Alice Smith", "Acme"),
    ]
    assert rows[0]["chunk_text"] == "Alice Smith works for Acme Corp."
    assert [(r["page"], r["section"]) for r in rows] == [(None, "People"), (2, None)]
    for row in rows:
        text = texts[row["document_id"]]
        assert text[row["head_start"] : row["head_end"]] == row["head_text"]
        assert text[row["tail_start"] : row["tail_end"]] == row["tail_text"]
    assert run(store, "relation_provenance", relation_id="rel:none") == []


# -- parameters ---------------------------------------------------------------------------

STRANGE = 'Zoë "Q" \\ O\'Brien $name // 東京 😀\n\t\u2028end'


def test_injection_looking_values_are_only_values(store):
    before = store.counts()
    for value in [
        '" OR e.name <> "',
        'Alice Smith" OR e.name = "Bob Jones',
        "Alice Smith\\",
        '") RETURN e.id //',
        "$name",
    ]:
        assert run(store, "entity_mentions", name=value) == []
        assert run(store, "entity_neighbours", name=value) == []
    with pytest.raises(CypherError):  # a string where LIMIT needs a number: refused
        run(store, "top_entities", limit="3 RETURN 1")
    assert store.counts() == before


def test_strange_strings_round_trip_exactly():
    graph = nx.MultiDiGraph()
    graph.add_node("x", __labels__={"Entity"}, name=STRANGE, n=1)
    graph.add_node("y", __labels__={"Entity"}, name="plain", n=2)
    query = "MATCH (e:Entity) WHERE e.name = $name RETURN e.name AS name"
    assert run_cypher(graph, query, {"name": STRANGE}) == [{"name": STRANGE}]
    query = "MATCH (e:Entity {name: $name}) RETURN e.n AS n"
    assert run_cypher(graph, query, {"name": STRANGE}) == [{"n": 1}]


def test_a_real_entity_with_a_strange_name_is_found():
    # The entity's name comes from its mention, so the document says the strange name.
    strange = make_document("c.txt", [f"{STRANGE} is far."], [(0, "Paris", STRANGE)], [])
    store = NetworkXStore(None)
    store.write_documents([strange])
    (row,) = store.query(load_query("entity_mentions"), {"name": STRANGE})
    assert (row["text"], row["start"], row["end"]) == (STRANGE, 0, len(STRANGE))


def test_parameter_literals():
    query = "MATCH (e) WHERE e.x IN $xs AND e.y = $y AND e.z = $z RETURN e // $comment"
    bound = bind_parameters(query, {"xs": [1, 2.5, "a", True, None], "y": -3e-07, "z": False})
    assert bound == (
        'MATCH (e) WHERE e.x IN [1, 2.5, "a", TRUE, NULL] AND e.y = -3e-07 AND e.z = FALSE '
        "RETURN e // $comment"
    )
    assert bind_parameters('RETURN "$x", $x', {"x": 'a"'}) == 'RETURN "$x", "a\\""'
    assert bind_parameters("RETURN $x", {"x": "é\n"}) == 'RETURN "\\u00e9\\u000a"'


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, r"\$name that were not given"),
        ({"name": {"a": 1}}, r"\$name: values of type dict"),
        ({"name": [[1]]}, r"\$name: nested"),
        ({"name": math.nan}, r"\$name: nan has no Cypher literal"),
    ],
)
def test_bad_parameters_are_refused_naming_them(parameters, message):
    with pytest.raises(CypherError, match=message):
        bind_parameters("MATCH (e) WHERE e.name = $name RETURN e", parameters)


# -- grand-cypher behaviour the adapter normalises ---------------------------------------


def test_unsupported_cypher_is_a_clear_error_naming_the_query(grand_store):
    store = grand_store
    for query in [
        "MATCH (e:Entity) RETURN count(e)",  # lower-case aggregate
        "MATCH (e:Entity) WHERE e.name = 'Paris' RETURN e.id",  # single quotes
        "MATCH (e:Entity) RETURN x.name",  # unknown variable
    ]:
        with pytest.raises(
            CypherError, match="grand-cypher cannot run query .MATCH \\(e:Entity\\)"
        ):
            store.query(query)
    with pytest.raises(CypherError, match="cannot run query 'top_entities: the most"):
        store.query(load_query("top_entities").replace("LIMIT $limit", "LIMIT"), {})


def test_columns_are_named_and_ordered_as_written(grand_store):
    store = grand_store
    rows = store.query(
        "MATCH (e:Entity) WHERE e.name = $name RETURN e.type, e.name AS name, e, id(e)",
        {"name": "Paris"},
    )
    assert rows == [
        {
            "e.type": "location",
            "name": "Paris",
            "e": {
                "id": entity_id("Paris"),
                "name": "Paris",
                "type": "location",
                "label": "Location",
                "aliases": ["Paris"],
                "mention_count": 1,
                "keys": ["paris"],
                "merges": [],
            },
            "id(e)": entity_id("Paris"),
        }
    ]
    assert list(rows[0]) == ["e.type", "name", "e", "id(e)"]
    rows = store.query("MATCH (e:Entity) RETURN e.type AS type, COUNT( e ) ORDER BY type ASC")
    assert rows[0] == {"type": "location", "COUNT( e )": 1}
    assert [r["COUNT( e )"] for r in rows] == [1, 1, 2]


def test_aggregates_over_nothing_give_one_row_as_in_neo4j(grand_store):
    store = grand_store
    rows = store.query(
        "MATCH (e:Entity) WHERE e.name = $name RETURN COUNT(e) AS n, COLLECT(e.id) AS ids",
        {"name": "nobody"},
    )
    assert rows == [{"n": 0, "ids": []}]


def test_or_across_variables_finds_every_row(grand_store):
    store = grand_store
    # grand-cypher 1.2's index hints lose these rows; the adapter turns hints off for OR.
    rows = store.query(
        "MATCH (h:Entity)-[r]->(t:Entity) WHERE h.name = $a OR t.name = $b "
        "RETURN r.id AS id ORDER BY id ASC",
        {"a": "Alice Smith", "b": "Paris"},
    )
    assert [r["id"] for r in rows] == sorted([WORKS_FOR, LOCATED_IN])


@pytest.mark.parametrize(
    "query",
    [
        load_query("relation_provenance"),
        load_query("relation_evidence"),
        "MATCH (t:Entity)<-[r]-(h:Entity) WHERE r.id = $relation_id RETURN h.name, t.name",
        "MATCH (m:Mention)-[:REFERS_TO]->(h:Entity)-[r]->(t:Entity) "
        'WHERE t.type = "organization" AND r.id = $relation_id RETURN m.text, t.name',
        # Only a real condition on r.id counts, not the same text inside a string:
        'MATCH (h:Entity)-[r]->(t:Entity) WHERE h.name <> "r.id = \\"x\\"" '
        "RETURN r.id AS id ORDER BY id ASC",
    ],
)
@pytest.mark.parametrize("rid", [WORKS_FOR, LOCATED_IN, "rel:none"])
def test_lookups_by_relation_id_give_the_rows_of_a_full_search(grand_store, query, rid):
    store = grand_store
    from grandcypher import GrandCypher

    bound = bind_parameters(query, {"relation_id": rid})
    engine = GrandCypher(store.graph)
    engine.auto_where_hints = engine.auto_node_jsondata_hints = False
    reference = {str(k): v for k, v in engine.run(bound).items()}
    rows = run_cypher(store.graph, query, {"relation_id": rid})
    assert rows == [
        dict(zip(reference, values, strict=True))
        for values in zip(*reference.values(), strict=True)
    ]
    if rid == "rel:none" and "<>" not in query:
        assert rows == []
    if rid == WORKS_FOR:
        assert rows


# -- the same queries on the Bolt test server ---------------------------------------------


@pytest.mark.neo4j
def test_every_query_gives_the_same_rows_on_neo4j(empty_bolt_graph):
    """Same writes on both backends, then every library query must give the same rows."""
    from kgbuild.store.neo4j_store import Neo4jStore

    server = empty_bolt_graph
    local = NetworkXStore(None)
    with Neo4jStore(server.uri, server.user, server.password, server.database) as neo:
        neo.setup_schema()
        steps = [
            ("write both", lambda s: s.write_documents(sample_graphs())),
            ("re-write A", lambda s: s.write_documents([document_a()])),
            ("delete A", lambda s: s.delete_documents([document_a().document.id])),
        ]
        for step, change in steps:
            for backend in (local, neo):
                backend.model_id = "test-model"
                change(backend)
            assert neo.counts() == local.counts(), step
            for name in sorted(LIBRARY):
                expected = local.query(load_query(name), PARAMETERS[name])
                got = neo.query(load_query(name), PARAMETERS[name])
                if name == "documents":  # written at different times
                    for row in expected + got:
                        row.pop("ingested_at")
                assert got == expected, f"{name} after {step}"


def test_every_library_query_names_the_labels_it_reads():
    """No query in cypher/ starts from an unlabelled node, so no helper node (the run
    lock's ``_KgbuildLock``, or the ``_EntityKey`` nodes of older versions) reaches it."""
    shared = {"Document", "Chunk", "Mention", "Entity"}
    for name, text in list_queries().items():
        bound: set[str] = set()
        for clause in re.findall(r"MATCH\s+(.*)", text):
            for var, label in re.findall(r"\((\w*)(?::(\w+))?", clause):
                assert var in bound or label in shared, f"{name}: ({var}) without a label"
                bound.add(var)
