"""The Neo4j store against a live Bolt server (ArcadeDB from ``scripts/test-server``).

Nothing here is mocked: every test that needs the server writes through the official
``neo4j`` driver and reads the graph back. The documents are the real Unicode files in
``tests/data/unicode`` (accents, a decomposed é, CRLF line ends, CJK and emoji), turned
into DocumentGraphs by the deterministic test extractor.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from neo4j.exceptions import ClientError, TransientError

from kgbuild import ids
from kgbuild.schema import InvalidTypeName, entity_label, relation_label
from kgbuild.store.base import StoreError
from kgbuild.store.neo4j_store import (
    Neo4jStore,
    WriteError,
    is_bolt_uri,
    schema_statements,
)
from kgbuild.types import (
    Chunk,
    Document,
    DocumentGraph,
    Entity,
    Mention,
    Relation,
    RelationEvidence,
)

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
for folder in (TESTS, TESTS / "store"):  # fake_extractor.py, sample_graphs.py: plain modules
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from fake_extractor import FakeExtractor  # noqa: E402
from sample_graphs import document_a, document_b, make_document  # noqa: E402

from kgbuild.store.networkx_store import NetworkXStore  # noqa: E402
from kgbuild.store.queries import list_queries  # noqa: E402
from tests.conftest import BoltServer  # noqa: E402

ENTITY_TYPES = ["person", "organization", "location"]
RELATION_TYPES = ["works for", "located in"]
EXTRA_TEXT = (
    "Yuki Tanaka works for Sakura Robotics Inc in Tokyo.\r\n\r\n"
    "Émile Garnier visited Sakura Robotics Inc with Jürgen Schäfer in Zürich. 🤖\n\n"
    "Lumière Optique Inc is in Zürich."
)


# ----------------------------------------------------------------------------------------
# Test data: real files -> DocumentGraphs (paragraph chunks, regex extractor, key resolution)
# ----------------------------------------------------------------------------------------


def build_graph(source: str, text: str) -> DocumentGraph:
    """A DocumentGraph as the pipeline would write it: ids from kgbuild.ids, exact offsets."""
    doc_id = ids.document_id(source)
    document = Document(id=doc_id, source=source, text=text, content_hash=ids.content_hash(text))
    chunks = [
        Chunk(
            id=ids.chunk_id(doc_id, m.start(), m.end()),
            document_id=doc_id,
            index=i,
            start=m.start(),
            end=m.end(),
            text=m.group(0),
        )
        for i, m in enumerate(re.finditer(r"[^\r\n]+(?:\r?\n[^\r\n]+)*", text))
    ]
    extractions = FakeExtractor().extract([c.text for c in chunks], ENTITY_TYPES, RELATION_TYPES)
    mentions: list[Mention] = []
    entities: dict[str, Entity] = {}
    relations: dict[str, Relation] = {}
    for chunk, extraction in zip(chunks, extractions, strict=True):
        local = []
        for e in extraction.entities:
            start, end = chunk.start + e.start, chunk.start + e.end
            key = " ".join(e.text.lower().split())
            entity_id = ids.entity_id(e.label, key)
            mention = Mention(
                id=ids.mention_id(doc_id, start, end, e.label),
                document_id=doc_id,
                chunk_id=chunk.id,
                start=start,
                end=end,
                text=e.text,
                label=e.label,
                score=e.score,
                entity_id=entity_id,
                keys=[key],
            )
            mentions.append(mention)
            local.append(mention)
            entity = entities.setdefault(
                entity_id, Entity(id=entity_id, name=e.text, type=e.label, keys=[key])
            )
            if e.text not in entity.aliases:
                entity.aliases.append(e.text)
            entity.mention_count += 1
        for r in extraction.relations:
            head, tail = local[r.head], local[r.tail]
            rel_id = ids.relation_id(head.entity_id, r.label, tail.entity_id)
            relation = relations.setdefault(
                rel_id,
                Relation(
                    id=rel_id,
                    head_id=head.entity_id,
                    tail_id=tail.entity_id,
                    type=r.label,
                    score=r.score,
                ),
            )
            relation.evidence.append(
                RelationEvidence(
                    document_id=doc_id,
                    chunk_id=chunk.id,
                    head_mention_id=head.id,
                    tail_mention_id=tail.id,
                    score=r.score,
                )
            )
    return DocumentGraph(
        document=document,
        chunks=chunks,
        mentions=mentions,
        entities=list(entities.values()),
        relations=list(relations.values()),
    )


@pytest.fixture(scope="module")
def graphs() -> list[DocumentGraph]:
    out = []
    for path in sorted((TESTS / "data" / "unicode").iterdir()):
        if path.suffix in {".txt", ".md"}:
            # Bytes decoded by hand: read_text() would turn CRLF into LF.
            out.append(build_graph(path.resolve().as_uri(), path.read_bytes().decode("utf-8")))
    out.append(build_graph("memory://extra.txt", EXTRA_TEXT))
    assert len(out) == 4 and all(g.relations for g in out), "test data must have relations"
    return out


NODE_KINDS = ("documents", "chunks", "mentions", "entities")


def expected_counts(graphs: list[DocumentGraph]) -> dict[str, int]:
    return {
        "documents": len(graphs),
        "chunks": sum(len(g.chunks) for g in graphs),
        "mentions": sum(len(g.mentions) for g in graphs),
        "entities": len({e.id for g in graphs for e in g.entities}),
        "relations": len({r.id for g in graphs for r in g.relations}),
    }


def open_store(server: BoltServer, **options: Any) -> Neo4jStore:
    store = Neo4jStore(server.uri, server.user, server.password, server.database, **options)
    store.open()
    return store


@pytest.fixture
def store(empty_bolt_graph):
    s = open_store(empty_bolt_graph)
    s.setup_schema()
    yield s
    s.close()


def snapshot(store: Neo4jStore) -> dict[str, Any]:
    """Every node and relationship with labels and properties (helper nodes included).

    ``ingested_at`` is left out: it is the one property that differs between two runs.
    """
    nodes = store.query("MATCH (n) RETURN labels(n) AS labels, properties(n) AS props")
    edges = store.query(
        "MATCH (a)-[r]->(b) RETURN coalesce(a.id, a.key) AS a, type(r) AS type, "
        "coalesce(b.id, b.key) AS b, properties(r) AS props"
    )
    for n in nodes:
        n["props"].pop("ingested_at", None)
    return {
        "nodes": sorted(
            json.dumps([sorted(n["labels"]), n["props"]], sort_keys=True) for n in nodes
        ),
        "edges": sorted(json.dumps(e, sort_keys=True) for e in edges),
    }


# ----------------------------------------------------------------------------------------
# No server needed
# ----------------------------------------------------------------------------------------


def test_bolt_uri_schemes_select_this_backend():
    assert is_bolt_uri("bolt://localhost:7687")
    assert is_bolt_uri("neo4j+s://abc.databases.neo4j.io")
    assert not is_bolt_uri("graph.json")
    assert not is_bolt_uri("http://localhost:7474")
    with pytest.raises(ValueError, match="not a Bolt URI"):
        Neo4jStore("graph.json", "neo4j", "pw")
    with pytest.raises(ValueError, match="not in the store URI"):
        Neo4jStore("bolt://neo4j:secret@localhost:7687")


def test_schema_file_has_the_constraints_and_indexes_idempotently():
    statements = schema_statements((REPO / "cypher" / "schema.cypher").read_text())
    assert statements and all("IF NOT EXISTS" in s for s in statements)
    text = " ".join(statements)
    for label in ("Document", "Chunk", "Mention", "Entity"):
        assert f"FOR (n:{label}) REQUIRE n.id IS UNIQUE" in text
    assert "FOR (n:Entity) ON (n.name)" in text and "FOR (n:Entity) ON (n.type)" in text


def test_server_down_gives_a_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Neo4jStore(f"bolt://127.0.0.1:{port}", "neo4j", "not-shown-anywhere-42")
    with pytest.raises(StoreError, match="cannot reach a Bolt server") as info:
        store.open()
    assert "not-shown-anywhere-42" not in str(info.value)


def test_missing_password_is_reported(monkeypatch):
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    with pytest.raises(StoreError, match="NEO4J_PASSWORD"):
        Neo4jStore("bolt://127.0.0.1:1", "neo4j").open()


# ----------------------------------------------------------------------------------------
# Connection checks against the live server
# ----------------------------------------------------------------------------------------


def test_wrong_password_is_a_clear_error_without_the_password(bolt_server, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "wrong-Passw0rd-xyz"
    store = Neo4jStore(bolt_server.uri, bolt_server.user, secret, bolt_server.database)
    with pytest.raises(StoreError, match="authentication failed") as info:
        store.open()
    assert secret not in str(info.value) and secret not in repr(store)
    assert secret not in caplog.text
    assert bolt_server.password not in str(info.value)


def test_unknown_database_is_a_clear_error(bolt_server):
    store = Neo4jStore(bolt_server.uri, bolt_server.user, bolt_server.password, "no_such_db")
    with pytest.raises(StoreError, match="database 'no_such_db' does not exist"):
        store.open()


def test_credentials_come_from_the_environment(bolt_server, monkeypatch):
    monkeypatch.setenv("NEO4J_USERNAME", bolt_server.user)
    monkeypatch.setenv("NEO4J_PASSWORD", bolt_server.password)
    if bolt_server.database:
        monkeypatch.setenv("NEO4J_DATABASE", bolt_server.database)
    with Neo4jStore(bolt_server.uri) as store:
        assert store.query("RETURN 1 AS one") == [{"one": 1}]


# ----------------------------------------------------------------------------------------
# Writes and reads
# ----------------------------------------------------------------------------------------


def test_setup_schema_is_idempotent_and_enforces_unique_ids(store):
    store.setup_schema()  # a second time: no error
    store.query("CREATE (:Entity {id: 'entity:dup'})")
    with pytest.raises(StoreError):
        store.query("CREATE (:Entity {id: 'entity:dup'})")


def test_round_trip_has_the_documented_graph_shape(store, graphs):
    store.model_id, store.schema_fingerprint = "fake-regex-1", "abc123"
    store.write_documents(graphs)
    assert store.counts() == expected_counts(graphs)

    g = graphs[0]
    doc = store.query("MATCH (d:Document {id: $id}) RETURN d", {"id": g.document.id})[0]["d"]
    assert doc["source"] == g.document.source and doc["text"] == g.document.text
    assert doc["content_hash"] == g.document.content_hash and json.loads(doc["metadata"]) == {}
    assert doc["model_id"] == "fake-regex-1" and doc["schema_fingerprint"] == "abc123"
    assert doc["chunk_count"] == len(g.chunks) and doc["kgbuild_version"]
    assert doc["ingested_at"]

    chunks = store.query(
        "MATCH (c:Chunk)-[:PART_OF]->(d:Document {id: $id}) "
        "OPTIONAL MATCH (c)-[:NEXT]->(n:Chunk) RETURN c, n.id AS next ORDER BY c.index",
        {"id": g.document.id},
    )
    # Unset properties (page, section of a text file) do not exist, as in NetworkX.
    assert [r["c"] for r in chunks] == [c.model_dump(exclude_none=True) for c in g.chunks]
    assert [r["next"] for r in chunks] == [c.id for c in g.chunks[1:]] + [None]

    mentions = store.query(
        "MATCH (m:Mention {document_id: $id})-[:IN_CHUNK]->(c:Chunk) "
        "MATCH (m)-[:REFERS_TO]->(e:Entity) RETURN m, c.id AS chunk, e.id AS entity",
        {"id": g.document.id},
    )
    want = {m.id: m for m in g.mentions}
    assert len(mentions) == len(want)
    for row in mentions:
        m = want[row["m"]["id"]]
        assert row["m"] == m.model_dump(exclude={"entity_id"}, exclude_none=True)
        assert (row["chunk"], row["entity"]) == (m.chunk_id, m.entity_id)

    everywhere = {e.id: e for gr in graphs for e in gr.entities}
    rows = store.query("MATCH (e:Entity) RETURN e, labels(e) AS labels")
    assert len(rows) == len(everywhere)
    for row in rows:
        e = everywhere[row["e"]["id"]]
        assert sorted(row["labels"]) == sorted(["Entity", entity_label(e.type)])
        assert row["e"]["label"] == entity_label(e.type) and row["e"]["type"] == e.type
        total = sum(1 for gr in graphs for m in gr.mentions if m.entity_id == e.id)
        assert row["e"]["mention_count"] == total

    rels = {r.id: r for gr in graphs for r in gr.relations}
    rows = store.query(
        "MATCH (a:Entity)-[r]->(b:Entity) RETURN a.id AS head, type(r) AS t, b.id AS tail, r"
    )
    assert len(rows) == len(rels)
    for row in rows:
        rel, props = rels[row["r"]["id"]], row["r"]
        assert (row["head"], row["t"], row["tail"]) == (
            rel.head_id,
            relation_label(rel.type),
            rel.tail_id,
        )
        # the store keeps evidence grouped by document, documents in id order (stable inside)
        evidence = sorted(
            (ev for gr in graphs for r in gr.relations if r.id == rel.id for ev in r.evidence),
            key=lambda ev: ev.document_id,
        )
        assert props["evidence_count"] == len(evidence) == len(props["document_ids"])
        assert props["chunk_ids"] == [ev.chunk_id for ev in evidence]
        assert props["head_mention_ids"] == [ev.head_mention_id for ev in evidence]
        assert props["tail_mention_ids"] == [ev.tail_mention_id for ev in evidence]
        assert props["evidence_scores"] == [ev.score for ev in evidence]
        assert props["type"] == rel.type and props["score"] == rel.score

    states = store.document_states()
    assert set(states) == {gr.document.id for gr in graphs}
    assert states[g.document.id].content_hash == g.document.content_hash
    assert states[g.document.id].model_id == "fake-regex-1"


def test_provenance_spans_slice_the_document_text_exactly(store, graphs):
    store.write_documents(graphs)
    rows = store.query(
        "MATCH (h:Entity)-[r]->(t:Entity) "
        "UNWIND range(0, size(r.document_ids) - 1) AS i "
        # Bound with WITH first: ArcadeDB matches nothing for {id: list[i]} in a pattern.
        "WITH h, t, r.document_ids[i] AS did, r.chunk_ids[i] AS cid, "
        "r.head_mention_ids[i] AS hid, r.tail_mention_ids[i] AS tid "
        "MATCH (d:Document {id: did}) "
        "MATCH (c:Chunk {id: cid})-[:PART_OF]->(d) "
        "MATCH (hm:Mention {id: hid})-[:IN_CHUNK]->(c) "
        "MATCH (tm:Mention {id: tid})-[:IN_CHUNK]->(c) "
        "RETURN d.text AS text, c.start AS cs, c.end AS ce, c.text AS chunk, "
        "hm.start AS hs, hm.end AS he, hm.text AS head, tm.start AS ts, tm.end AS te, "
        "tm.text AS tail, h.id AS h, t.id AS t, [(hm)-[:REFERS_TO]->(x) | x.id] AS hx"
    )
    assert len(rows) == sum(len(r.evidence) for g in graphs for r in g.relations)
    for row in rows:
        assert row["text"][row["cs"] : row["ce"]] == row["chunk"]
        assert row["text"][row["hs"] : row["he"]] == row["head"]
        assert row["text"][row["ts"] : row["te"]] == row["tail"]
        assert row["hx"] == [row["h"]]  # the evidence's head mention refers to the head
    assert any("\r\n" in row["text"] for row in rows)  # CRLF kept: offsets still exact
    assert any(ord(ch) > 0xFFFF for row in rows for ch in row["text"])  # emoji before spans


def test_rewriting_the_same_documents_changes_nothing(store, graphs):
    store.write_documents(graphs)
    before = snapshot(store)
    store.write_documents(graphs)
    store.write_documents(graphs[1:2])
    assert store.counts() == expected_counts(graphs)
    assert snapshot(store) == before


def test_small_batches_give_the_same_graph(empty_bolt_graph, wipe_graph, graphs):
    with open_store(empty_bolt_graph, batch_size=3) as small:
        small.setup_schema()
        small.write_documents(graphs)
        small_graph = snapshot(small)
    wipe_graph(empty_bolt_graph)
    with open_store(empty_bolt_graph, batch_size=10_000) as big:
        big.write_documents(graphs)
        assert snapshot(big) == small_graph


def test_a_changed_document_replaces_its_old_evidence(store, empty_bolt_graph, wipe_graph, graphs):
    source = graphs[-1].document.source
    old = build_graph(source, "Old Person works for Gone Corp in Berlin.")
    store.write_documents([*graphs[:-1], old])
    store.write_documents([graphs[-1]])  # same source, new text
    after = snapshot(store)
    assert not store.query("MATCH (e:Entity) WHERE e.name IN ['Old Person', 'Gone Corp'] RETURN e")
    assert not store.find_entities(["gone corp"])
    wipe_graph(empty_bolt_graph)
    store.write_documents(graphs)
    assert snapshot(store) == after


def test_delete_a_document(store, graphs):
    store.write_documents(graphs)
    gone = graphs[-1]  # shares entities with the other documents
    store.delete_documents([gone.document.id])
    assert store.counts() == expected_counts(graphs[:-1])
    assert gone.document.id not in store.document_states()
    leftover = store.query(
        "MATCH (a:Entity)-[r]->(:Entity) WHERE $id IN r.document_ids RETURN r.id AS id "
        "UNION MATCH (n) WHERE n.document_id = $id RETURN n.id AS id",
        {"id": gone.document.id},
    )
    assert leftover == []
    # Entities mentioned by the others keep their counts; relations their other evidence.
    for row in store.query("MATCH (e:Entity) RETURN e.id AS id, e.mention_count AS n"):
        assert row["n"] == sum(
            1 for g in graphs[:-1] for m in g.mentions if m.entity_id == row["id"]
        )
    for row in store.query("MATCH (:Entity)-[r]->(:Entity) RETURN r.evidence_count AS n"):
        assert row["n"] > 0
    store.delete_documents([gone.document.id])  # again: nothing to do, no error
    assert store.counts() == expected_counts(graphs[:-1])


def test_find_entities_uses_the_alias_keys(store, graphs):
    store.write_documents(graphs)
    found = store.find_entities(["yuki tanaka", "sakura robotics inc", "not there"])
    assert sorted(e.name for e in found) == ["Sakura Robotics Inc", "Yuki Tanaka"]
    sakura = next(e for e in found if e.type == "organization")
    assert sakura.keys == ["sakura robotics inc"]
    assert sakura.mention_count == sum(
        1 for g in graphs for m in g.mentions if m.entity_id == sakura.id
    )
    assert store.find_entities([]) == []
    # The alias index is the entities' keys property: no helper nodes.
    (row,) = store.query("MATCH (n) RETURN count(n) AS n")
    assert row["n"] == sum(expected_counts(graphs)[k] for k in NODE_KINDS)


def test_entity_neighbours_and_documents(store, graphs):
    store.write_documents(graphs)
    relations = [r for g in graphs for r in g.relations]
    rel = relations[0]
    nbrs = store.entity_neighbours([rel.head_id, rel.tail_id, "entity:unknown"])
    evidence = {e.document_id for r in relations if r.id == rel.id for e in r.evidence}
    assert evidence <= nbrs[rel.head_id][rel.tail_id]
    assert rel.head_id in nbrs[rel.tail_id]
    assert nbrs["entity:unknown"] == {}
    docs = store.entity_documents([rel.head_id])
    assert docs[rel.head_id] == {
        g.document.id for g in graphs for m in g.mentions if m.entity_id == rel.head_id
    }


def test_find_entities_by_a_short_form_key_uses_the_mentions_short_key(store, graphs):
    graph = graphs[-1].model_copy(deep=True)
    sakura = next(m for m in graph.mentions if m.text == "Sakura Robotics Inc")
    sakura.keys = ["n:sakura robotics", "h:sakura"]
    store.write_documents([graph])
    (row,) = store.query("MATCH (m:Mention {id: $id}) RETURN m.short_key AS key", {"id": sakura.id})
    assert row["key"] == "h:sakura"
    assert [e.id for e in store.find_entities(["h:sakura"])] == [sakura.entity_id]
    assert store.find_entities(["h:nobody"]) == []


def test_setup_schema_removes_the_helper_nodes_of_the_old_alias_index(store, graphs):
    store.write_documents(graphs)
    before = snapshot(store)
    store.driver.execute_query(
        "UNWIND range(1, 5) AS i CREATE (:_EntityKey {key: 'old ' + toString(i)})",
        database_=store.database,
    )
    (row,) = store.query("MATCH (k:_EntityKey) RETURN count(k) AS n")
    assert row["n"] == 5
    store.batch_size = 2  # deleted in batches
    store.setup_schema()
    assert snapshot(store) == before
    assert [e.name for e in store.find_entities(["yuki tanaka"])] == ["Yuki Tanaka"]


def test_query_returns_plain_values(store, graphs):
    store.write_documents(graphs[:1])
    rows = store.query("MATCH (c:Chunk)-[p:PART_OF]->(d:Document) RETURN c, p, d.id AS id LIMIT 1")
    assert isinstance(rows[0]["c"], dict) and rows[0]["c"]["document_id"] == rows[0]["id"]
    assert rows[0]["p"] == {}
    with pytest.raises(StoreError, match="query failed"):
        store.query("THIS IS NOT CYPHER")


# ----------------------------------------------------------------------------------------
# Injection
# ----------------------------------------------------------------------------------------

HOSTILE_TYPES = [
    "person`) DETACH DELETE n //",
    "person'; MATCH (n) DETACH DELETE n; //",
    'organization" }) RETURN 1',
    "Entity",  # a reserved label
    "a" * 80,
]


@pytest.mark.parametrize("hostile", HOSTILE_TYPES)
def test_injection_through_an_entity_type_is_rejected_and_writes_nothing(store, graphs, hostile):
    store.write_documents(graphs[:1])
    before = snapshot(store)
    bad = graphs[1].model_copy(deep=True)
    bad.entities[0].type = hostile
    with pytest.raises(InvalidTypeName, match=re.escape(bad.document.id)):
        store.write_documents([bad])
    assert snapshot(store) == before
    # In a longer call, the documents before the bad one are written, it and later not.
    with pytest.raises(InvalidTypeName, match=re.escape(bad.document.id)):
        store.write_documents([graphs[2], bad, graphs[3]])
    assert set(store.document_states()) == {graphs[0].document.id, graphs[2].document.id}
    assert store.counts() == expected_counts([graphs[0], graphs[2]])
    assert not store.query("MATCH (n) WHERE n.document_id = $id RETURN n", {"id": bad.document.id})


@pytest.mark.parametrize(
    "hostile", ["works for`]->() DETACH DELETE n //", "x; DROP", "NEXT", "works_for]-("]
)
def test_injection_through_a_relation_type_is_rejected_and_writes_nothing(store, graphs, hostile):
    bad = graphs[1].model_copy(deep=True)
    bad.relations[0].type = hostile
    with pytest.raises(InvalidTypeName, match="relation type"):
        store.write_documents([bad])
    assert store.counts() == dict.fromkeys(expected_counts([]), 0)


# ----------------------------------------------------------------------------------------
# Reliability: retries, and a server killed in the middle of a write
# ----------------------------------------------------------------------------------------


def test_transient_errors_are_retried_then_succeed(store, caplog):
    calls = []

    def flaky(tx):
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("simulated deadlock")
        return tx.run("RETURN 7 AS x").single()["x"]

    store.retry_wait = 0.01
    assert store._transaction(flaky, "flaky work") == 7
    assert len(calls) == 3 and "flaky work failed (attempt 1 of 6)" in caplog.text


def test_errors_that_are_not_transient_are_not_retried(store):
    calls = []

    def broken(tx):
        calls.append(1)
        raise ClientError("bad query")

    with pytest.raises(ClientError):
        store._transaction(broken, "broken work")
    assert len(calls) == 1


class _RacingTransaction:
    """A transaction whose first entity CREATE is preceded by a rival's commit of that id."""

    def __init__(self, tx, store: RacedStore) -> None:
        self.tx, self.store = tx, store

    def run(self, query, parameters=None, **kw):
        rows = kw.get("rows") or []
        if "CREATE (e:Entity:" in query and rows and not self.store.raced:
            self.store.raced = rows[0]["id"]
            label = rows[0]["label"]
            self.store.rival.execute_query(
                f"CREATE (:Entity:`{label}` {{id: $id, name: 'the rival'}})",
                id=rows[0]["id"],
                database_=self.store.database,
            )
        return self.tx.run(query, parameters, **kw)


class RacedStore(Neo4jStore):
    """Another writer commits one of our new entities between our lookup and our CREATE."""

    raced: str | None = None
    rival: Any = None

    def _transaction(self, work, what, **options):
        if what.endswith(" entities") and not self.raced:
            return super()._transaction(
                lambda tx: work(_RacingTransaction(tx, self)), what, **options
            )
        return super()._transaction(work, what, **options)


def test_a_lost_create_race_is_retried_as_an_update(empty_bolt_graph, graphs):
    from neo4j import GraphDatabase

    server = empty_bolt_graph
    store = RacedStore(server.uri, server.user, server.password, server.database, retry_wait=0.01)
    auth = (server.user, server.password)
    with store, GraphDatabase.driver(server.uri, auth=auth) as rival:
        store.setup_schema()
        store.rival = rival
        store.write_documents(graphs[:1])
        assert store.raced  # the race happened, and the write still went through
        assert store.counts() == expected_counts(graphs[:1])
        (entity,) = [e for e in graphs[0].entities if e.id == store.raced]
        (stored,) = store.find_entities(entity.keys[:1])
        assert stored.name == entity.name and stored.mention_count == entity.mention_count


class PrivateServer:
    """A second ArcadeDB instance of our own (scripts/test-server with its own state dir)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "test-server"), *args]
            + ["--state-dir", str(self.state_dir)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"test-server {args} failed:\n{done.stdout}{done.stderr}"

    def start(self, reuse_data: bool = False) -> BoltServer:
        self._run("start", *(["--reuse-data"] if reuse_data else []))
        env = {}
        for line in (self.state_dir / "env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = "".join(shlex.split(value))
        return BoltServer(
            env["KGBUILD_TEST_BOLT_URI"],
            env["KGBUILD_TEST_BOLT_USER"],
            env["KGBUILD_TEST_BOLT_PASSWORD"],
            env["KGBUILD_TEST_BOLT_DATABASE"],
        )

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash or a pulled plug."""
        pid = json.loads((self.state_dir / "state.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists() and "zombie" not in _proc_state(pid):
            time.sleep(0.05)

    def stop(self) -> None:
        self._run("stop")


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


class KillingStore(Neo4jStore):
    """Kills the server just before its ``kill_at``-th transaction."""

    def __init__(self, *args: Any, server: PrivateServer, kill_at: int, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.server, self.kill_at, self.transactions = server, kill_at, 0

    def _transaction(self, work, what, **options):
        self.transactions += 1
        if self.transactions == self.kill_at:
            self.server.kill()
        return super()._transaction(work, what, **options)


@pytest.mark.slow
def test_server_killed_mid_write_then_rerun_gives_the_clean_graph(
    empty_bolt_graph, wipe_graph, graphs, tmp_path
):
    # The clean run, on the shared server.
    with open_store(empty_bolt_graph) as clean:
        clean.setup_schema()
        clean.write_documents(graphs)
        clean_graph, clean_counts = snapshot(clean), clean.counts()

    # Count the transactions of a run, to kill the server in the middle of group 2 of 4.
    counter = KillingStore(
        empty_bolt_graph.uri,
        empty_bolt_graph.user,
        empty_bolt_graph.password,
        empty_bolt_graph.database,
        batch_size=1,
        group_rows=1,  # one document per group
        server=None,
        kill_at=-1,
    )
    wipe_graph(empty_bolt_graph)
    with counter:
        counter.write_documents(graphs[:1])
        first_group = counter.transactions
        counter.write_documents(graphs[1:2])
        second_group = counter.transactions - first_group

    private = PrivateServer(tmp_path / "server")
    server = private.start()
    try:
        kill_at = first_group + second_group // 2 + 1  # among the entity/relation writes
        store = KillingStore(
            server.uri,
            server.user,
            server.password,
            server.database,
            batch_size=1,
            group_rows=1,
            max_retries=2,
            retry_wait=0.05,
            server=private,
            kill_at=kill_at,
        )
        store.open()
        store.setup_schema()
        store.transactions = 0
        with pytest.raises(WriteError) as info:
            store.write_documents(graphs)
        store.close()
        assert info.value.document_ids == [graphs[1].document.id]
        assert graphs[1].document.id in str(info.value)
        assert server.password not in str(info.value)

        server = private.start(reuse_data=True)  # same data directory
        with open_store(server) as rerun:
            states = rerun.document_states()
            # The first document was committed, the one that failed was not.
            assert graphs[0].document.id in states
            assert graphs[1].document.id not in states
            # A re-run writes what is missing or changed, as the pipeline does.
            todo = [
                g
                for g in graphs
                if g.document.id not in states
                or states[g.document.id].content_hash != g.document.content_hash
            ]
            assert graphs[0] not in todo
            rerun.write_documents(todo)
            assert rerun.counts() == clean_counts
            assert snapshot(rerun) == clean_graph
    finally:
        private.stop()


# ----------------------------------------------------------------------------------------
# The same graph as the NetworkX store
# ----------------------------------------------------------------------------------------


def nx_snapshot(store: NetworkXStore) -> dict[str, Any]:
    """:func:`snapshot` of a NetworkX store, in the same form."""
    nodes, edges = [], []
    for _, data in store.graph.nodes(data=True):
        props = {k: v for k, v in data.items() if k not in ("__labels__", "ingested_at")}
        nodes.append(json.dumps([sorted(data["__labels__"]), props], sort_keys=True))
    for u, v, data in store.graph.edges(data=True):
        (rel_type,) = data["__labels__"]
        props = {k: val for k, val in data.items() if k != "__labels__"}
        edges.append(json.dumps({"a": u, "type": rel_type, "b": v, "props": props}, sort_keys=True))
    return {"nodes": sorted(nodes), "edges": sorted(edges)}


def library_rows(store, graphs: list[DocumentGraph]) -> dict[str, list[str]]:
    """Every query of cypher/ with every parameter value the graphs offer, rows sorted."""
    names = sorted({e.name for g in graphs for e in g.entities})
    values = {
        "type": sorted({e.type for g in graphs for e in g.entities}),
        "name": names[:: max(1, len(names) // 8)],
        "relation_id": sorted({r.id for g in graphs for r in g.relations})[:8],
        "limit": [1000],
    }
    out = {}
    for name, text in list_queries().items():
        params = sorted(set(re.findall(r"\$([A-Za-z_]\w*)", _code(text))))
        assert len(params) <= 1, f"{name}: extend library_rows for {params}"
        for value in values[params[0]] if params else [None]:
            rows = store.query(text, {params[0]: value} if params else None)
            for row in rows:
                row.pop("ingested_at", None)  # the clock, not the graph
            out[f"{name}({value})"] = sorted(json.dumps(r, sort_keys=True) for r in rows)
    return out


def _code(cypher: str) -> str:
    return "\n".join(line for line in cypher.splitlines() if not line.strip().startswith("//"))


@pytest.fixture
def both(store):
    nx_store = NetworkXStore(None)
    for s in (store, nx_store):
        s.model_id, s.schema_fingerprint = "fake-regex-1", "f00d"
    return store, nx_store


def assert_same(neo: Neo4jStore, nx_store: NetworkXStore, graphs: list[DocumentGraph]) -> None:
    assert neo.counts() == nx_store.counts()
    assert snapshot(neo) == nx_snapshot(nx_store)
    assert neo.document_states() == nx_store.document_states()
    keys = sorted({k for g in graphs for e in g.entities for k in e.keys})
    assert neo.find_entities(keys) == nx_store.find_entities(keys)
    assert library_rows(neo, graphs) == library_rows(nx_store, graphs)


def test_same_graph_and_query_rows_as_networkx_through_every_kind_of_write(both, graphs):
    neo, nx_store = both
    a, b = document_a(), document_b()
    everything = [*graphs, a, b]

    def apply(action, *args):
        for s in (neo, nx_store):
            getattr(s, action)(*args)
        assert_same(neo, nx_store, everything)

    apply("write_documents", everything)
    assert library_rows(neo, everything)["relation_counts(None)"]  # the queries found rows
    apply("write_documents", everything)  # again: unchanged
    apply("write_documents", [b, a])  # re-written together, other order
    changed = make_document(
        "a.txt",
        ["Alice Smith works for Acme Corp."],
        [(0, "Alice Smith"), (0, "Acme Corp")],
        [(0, "works for", 1, 0.5)],
    )
    apply("write_documents", [changed, graphs[0]])  # a changed document and an unchanged one
    apply("delete_documents", [b.document.id, "doc:unknown"])
    # A mention resolved to an entity the store holds but the graph does not carry.
    outside = document_b()
    outside.entities = [e for e in outside.entities if e.name != "Alice Smith"]
    apply("write_documents", [outside])
    apply("delete_documents", [g.document.id for g in everything])
    assert neo.counts() == dict.fromkeys(neo.counts(), 0)
    assert snapshot(neo) == {"nodes": [], "edges": []}  # no helper node left either


def test_a_rewrite_keeps_what_is_unchanged_and_replaces_the_rest(both, graphs):
    """Re-writing a document changes in place only what differs: a mention's score, a
    mention now resolved to another entity, a chunk's page gone, a chunk split in two
    (NEXT re-linked), a relation no longer stated; the graph equals NetworkX's."""
    neo, nx_store = both
    g = graphs[0]
    for s in (neo, nx_store):
        s.write_documents([g])
    first, *rest = g.chunks
    paged = first.model_copy(update={"page": 3})
    for s in (neo, nx_store):
        s.write_documents([g.model_copy(update={"chunks": [paged, *rest]})])
    assert_same(neo, nx_store, [g])

    cut = first.start + len(first.text) // 2
    halves = [
        Chunk(
            id=ids.chunk_id(g.document.id, start, end),
            document_id=g.document.id,
            index=i,
            start=start,
            end=end,
            text=g.document.text[start:end],
        )
        for i, (start, end) in enumerate([(first.start, cut), (cut, first.end)])
    ]
    chunks = [*halves, *(c.model_copy(update={"index": c.index + 1}) for c in rest)]
    inside = {c.id: c for c in chunks}

    def chunk_of(m: Mention) -> str:
        if m.chunk_id != first.id:
            return m.chunk_id
        return halves[0].id if m.end <= cut else halves[1].id

    mentions = [m.model_copy(update={"chunk_id": chunk_of(m)}) for m in g.mentions]
    mentions[1] = mentions[1].model_copy(update={"score": 0.42})
    moved = mentions[-1]
    other = next(e for e in g.entities if e.id != moved.entity_id and e.type == moved.label)
    mentions[-1] = moved.model_copy(update={"entity_id": other.id})
    kept_ids = {m.id: m for m in mentions}
    relations = []
    for r in g.relations[1:]:  # the first relation is no longer stated
        evidence = [
            e.model_copy(update={"chunk_id": kept_ids[e.head_mention_id].chunk_id})
            for e in r.evidence
            if moved.id not in (e.head_mention_id, e.tail_mention_id)
        ]
        if evidence:
            relations.append(r.model_copy(update={"evidence": evidence}))
    entities = [e for e in g.entities if any(m.entity_id == e.id for m in mentions)]
    changed = g.model_copy(
        update={
            "chunks": chunks,
            "mentions": mentions,
            "relations": relations,
            "entities": entities,
        }
    )
    assert all(m.chunk_id in inside for m in mentions)
    for s in (neo, nx_store):
        s.write_documents([changed])
    assert_same(neo, nx_store, [changed])
    for s in (neo, nx_store):  # and back
        s.write_documents([g])
    assert_same(neo, nx_store, [g])

    # Without its middle chunk (NEXT jumps over it), then with it again (NEXT re-linked).
    assert len(g.chunks) >= 3
    middle = g.chunks[1].id
    mentions = [m for m in g.mentions if m.chunk_id != middle]
    gap = g.model_copy(
        update={
            "chunks": [c for c in g.chunks if c.id != middle],
            "mentions": mentions,
            "entities": [e for e in g.entities if any(m.entity_id == e.id for m in mentions)],
            "relations": [
                r.model_copy(update={"evidence": [e for e in r.evidence if e.chunk_id != middle]})
                for r in g.relations
                if any(e.chunk_id != middle for e in r.evidence)
            ],
        }
    )
    for version in (gap, g):
        for s in (neo, nx_store):
            s.write_documents([version])
        assert_same(neo, nx_store, [version])


def test_pipeline_ingest_gives_the_same_graph_as_networkx(both, tmp_path):
    """A full ingest through KnowledgeGraphBuilder (examples/ when it has documents)."""
    builder_module = pytest.importorskip("kgbuild.pipeline.builder")
    examples = REPO / "examples"
    has_examples = examples.is_dir() and any(
        p.suffix in {".txt", ".md", ".html", ".jsonl"} for p in examples.rglob("*")
    )
    source = examples if has_examples else TESTS / "data" / "unicode"
    neo, nx_store = both

    def ingest(store):
        builder = builder_module.KnowledgeGraphBuilder(
            store,
            entity_types=ENTITY_TYPES,
            relation_types=RELATION_TYPES,
            extractor=FakeExtractor(),
            progress=False,
        )
        return builder.ingest([source])

    summaries = [ingest(neo), ingest(nx_store)]
    assert not summaries[0].failures and not summaries[1].failures
    assert neo.counts() == nx_store.counts() and neo.counts()["relations"] > 0
    assert snapshot(neo) == nx_snapshot(nx_store)
    # The alias index answers alike: name keys through the mentions' name_key on Neo4j.
    keys = sorted({k for _, ks in nx_store.graph.nodes(data="keys") if ks for k in ks})
    names = [k for k in keys if k.startswith(("n:", "x:"))]
    assert names and neo.find_entities(names) == nx_store.find_entities(names)
    assert neo.find_entities(keys[:50]) == nx_store.find_entities(keys[:50])
    # No helper nodes: a bare count of everything agrees too.
    total = "MATCH (n) RETURN count(n) AS n"
    assert neo.query(total) == nx_store.query(total)
    assert neo.query(total)[0]["n"] == sum(neo.counts()[k] for k in NODE_KINDS)
    graphs_like = [
        DocumentGraph(
            document=Document(id="x", source="x", text="", content_hash="x"),
            entities=nx_store.find_entities(
                [k for _, d in nx_store.graph.nodes(data="keys") if d for k in d]
            ),
            relations=[
                Relation(id=d["id"], head_id=u, tail_id=v, type=d["type"], score=d["score"])
                for u, v, d in nx_store.graph.edges(data=True)
                if "id" in d
            ],
        )
    ]
    assert library_rows(neo, graphs_like) == library_rows(nx_store, graphs_like)
    # Re-ingesting unchanged documents changes no counts.
    before = neo.counts()
    ingest(neo)
    assert neo.counts() == before


def test_driver_temporals_become_iso_text_durations_included():
    """neo4j.time.Duration is a tuple: it must not come back as a list of its fields."""
    from neo4j.time import Date, DateTime, Duration

    from kgbuild.store.neo4j_store import _plain

    assert _plain(Duration(days=1, hours=2)) == "P1DT2H"
    assert _plain([Date(2024, 1, 2), {"d": Duration(months=14)}]) == [
        "2024-01-02",
        {"d": "P1Y2M"},
    ]
    assert _plain(DateTime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000000000"


def test_documents_are_written_in_groups_of_about_group_rows(empty_bolt_graph, wipe_graph, graphs):
    """Small documents share their statements (one chunk statement for all of them, not
    one per document), and the graph is the one written a document at a time."""

    class Counting(Neo4jStore):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.chunk_statements = 0

        def _write_rows(self, query, rows, what, **parameters):
            self.chunk_statements += what == "writing chunks"
            return super()._write_rows(query, rows, what, **parameters)

    def write(group_rows: int) -> tuple[int, dict]:
        wipe_graph(empty_bolt_graph)
        with Counting(
            empty_bolt_graph.uri,
            empty_bolt_graph.user,
            empty_bolt_graph.password,
            empty_bolt_graph.database,
            group_rows=group_rows,
        ) as store:
            store.setup_schema()
            store.write_documents(graphs)
            return store.chunk_statements, snapshot(store)

    one_by_one, graph_one_by_one = write(group_rows=1)
    grouped, graph_grouped = write(group_rows=10_000)
    assert one_by_one == len(graphs) > 1
    assert grouped == 1
    assert graph_grouped == graph_one_by_one
