"""NetworkXStore: graph shape, idempotent writes, deletes, files and exports."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
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

import kgbuild  # noqa: E402
from kgbuild.store import NetworkXStore, StoreError, open_store  # noqa: E402
from kgbuild.store import networkx_store as module  # noqa: E402
from kgbuild.store.base import GraphStore  # noqa: E402

FIXED_TIME = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """ingested_at is the only property that changes between identical writes."""
    monkeypatch.setattr(module, "_utc_now", lambda: FIXED_TIME)


@pytest.fixture
def store() -> NetworkXStore:
    store = NetworkXStore(None)
    store.model_id = "test-model"
    store.schema_fingerprint = "abc123"
    store.write_documents(sample_graphs())
    return store


def dump(store: NetworkXStore) -> str:
    return module._dumps(store.graph)


def labels(store: NetworkXStore, node: str) -> set[str]:
    return store.graph.nodes[node]["__labels__"]


def edge_keys(store: NetworkXStore, u: str, v: str) -> set[str]:
    return set(store.graph.get_edge_data(u, v, default={}))


# -- shape --------------------------------------------------------------------------------


def test_counts(store):
    assert store.counts() == {
        "documents": 2,
        "chunks": 4,
        "mentions": 8,
        "entities": 4,
        "relations": 3,
    }


def test_document_node_has_every_property(store):
    a = document_a()
    data = store.graph.nodes[a.document.id]
    assert data["__labels__"] == {"Document"}
    assert data["id"] == a.document.id
    assert data["source"] == "a.txt"
    assert data["content_hash"] == a.document.content_hash
    assert data["text"] == a.document.text
    assert json.loads(data["metadata"]) == {"title": "Document A", "year": 2024}
    assert data["kgbuild_version"] == kgbuild.__version__
    assert data["model_id"] == "test-model"
    assert data["schema_fingerprint"] == "abc123"
    assert data["ingested_at"] == "2025-01-02T03:04:05+00:00"
    assert data["chunk_count"] == 2


def test_chunks_and_mentions_have_offsets_into_the_document(store):
    for graph in sample_graphs():
        doc = graph.document
        for chunk in graph.chunks:
            data = store.graph.nodes[chunk.id]
            assert data["__labels__"] == {"Chunk"}
            assert {k: v for k, v in data.items() if k != "__labels__"} == chunk.model_dump(
                exclude_none=True
            )
            assert doc.text[data["start"] : data["end"]] == data["text"]
            assert edge_keys(store, chunk.id, doc.id) == {"PART_OF"}
            assert store.graph.edges[chunk.id, doc.id, "PART_OF"]["__labels__"] == {"PART_OF"}
        first, second = graph.chunks
        assert edge_keys(store, first.id, second.id) == {"NEXT"}
        assert edge_keys(store, second.id, first.id) == set()
        for mention in graph.mentions:
            data = store.graph.nodes[mention.id]
            assert data["__labels__"] == {"Mention"}
            assert {k: v for k, v in data.items() if k != "__labels__"} == mention.model_dump(
                exclude={"entity_id"}, exclude_none=True
            )
            assert doc.text[data["start"] : data["end"]] == data["text"]
            assert edge_keys(store, mention.id, mention.chunk_id) == {"IN_CHUNK"}
            assert edge_keys(store, mention.id, mention.entity_id) == {"REFERS_TO"}


def test_entities_merge_across_documents(store):
    acme = store.graph.nodes[entity_id("Acme Corp")]
    assert acme["__labels__"] == {"Entity", "Organization"}
    assert acme["id"] == entity_id("Acme Corp")
    assert acme["name"] == "Acme Corp"
    assert acme["type"] == "organization"
    assert acme["label"] == "Organization"
    assert acme["aliases"] == ["Acme", "Acme Corp"]
    assert acme["keys"] == ["acme", "acme corp"]
    assert acme["mention_count"] == 4
    assert store.graph.nodes[entity_id("Alice Smith")]["mention_count"] == 2
    assert labels(store, entity_id("Paris")) == {"Entity", "Location"}


def test_relation_edge_holds_evidence_of_both_documents(store):
    a, b = document_a(), document_b()
    alice, acme = entity_id("Alice Smith"), entity_id("Acme Corp")
    rid = relation_id("Alice Smith", "works for", "Acme Corp")
    assert edge_keys(store, alice, acme) == {rid}
    edge = store.graph.edges[alice, acme, rid]
    assert edge["__labels__"] == {"WORKS_FOR"}
    assert edge["id"] == rid
    assert edge["type"] == "works for"
    assert edge["score"] == 0.9
    assert edge["evidence_count"] == 2
    expected = sorted(
        [
            (a.document.id, a.chunks[0].id, a.mentions[0].id, a.mentions[1].id, 0.9),
            (b.document.id, b.chunks[1].id, b.mentions[2].id, b.mentions[3].id, 0.6),
        ]
    )
    fields = module.EVIDENCE_FIELDS
    assert list(zip(*(edge[f] for f in fields), strict=True)) == expected


def test_every_label_is_a_set_and_every_edge_key_is_deterministic(store):
    for _, data in store.graph.nodes(data=True):
        assert isinstance(data["__labels__"], set)
    for _, _, k, data in store.graph.edges(keys=True, data=True):
        assert isinstance(data["__labels__"], set)
        assert k == data.get("id", next(iter(data["__labels__"])))


# -- idempotence and re-writes ------------------------------------------------------------


def test_writing_the_same_graphs_again_changes_nothing(store):
    before = dump(store)
    store.write_documents(sample_graphs())
    assert dump(store) == before
    store.write_documents([document_a()])  # the earlier document again, alone
    assert dump(store) == before
    store.write_documents(reversed(sample_graphs()))
    assert dump(store) == before


def test_write_order_does_not_matter():
    first, second = NetworkXStore(None), NetworkXStore(None)
    first.write_documents([document_a(), document_b()])
    second.write_documents([document_b(), document_a()])
    # Only the entity name and alias order may follow the last writer; here they agree.
    assert dump(first) == dump(second)


def test_rewriting_a_changed_document_leaves_nothing_of_the_old_version(store):
    changed = make_document(
        "a.txt",
        ["Alice Smith works for Acme Corp."],
        [(0, "Alice Smith"), (0, "Acme Corp")],
        [(0, "works for", 1, 0.5)],
    )
    store.write_documents([changed])
    assert store.counts() == {
        "documents": 2,
        "chunks": 3,
        "mentions": 6,
        "entities": 3,  # Paris was only in the old version of A
        "relations": 2,
    }
    assert entity_id("Paris") not in store.graph
    old_chunk = document_a().chunks[1].id
    assert old_chunk not in store.graph
    edge = store.graph.edges[
        entity_id("Alice Smith"),
        entity_id("Acme Corp"),
        relation_id("Alice Smith", "works for", "Acme Corp"),
    ]
    assert sorted(edge["evidence_scores"]) == [0.5, 0.6]
    assert edge["score"] == 0.6
    assert store.graph.nodes[changed.document.id]["chunk_count"] == 1


# -- deletes ------------------------------------------------------------------------------


def test_delete_removes_evidence_and_orphans_but_keeps_shared_entities(store):
    a, b = document_a(), document_b()
    store.delete_documents([a.document.id])
    assert store.counts() == {
        "documents": 1,
        "chunks": 2,
        "mentions": 4,
        "entities": 3,
        "relations": 2,
    }
    assert entity_id("Paris") not in store.graph
    assert store.find_entities(["paris"]) == []
    assert all(chunk.id not in store.graph for chunk in a.chunks)
    assert all(mention.id not in store.graph for mention in a.mentions)
    alice = store.graph.nodes[entity_id("Alice Smith")]
    assert alice["mention_count"] == 1
    edge = store.graph.edges[
        entity_id("Alice Smith"),
        entity_id("Acme Corp"),
        relation_id("Alice Smith", "works for", "Acme Corp"),
    ]
    assert edge["document_ids"] == [b.document.id]
    assert edge["head_mention_ids"] == [b.mentions[2].id]
    assert edge["evidence_count"] == 1
    assert edge["score"] == 0.6  # recomputed from the evidence that is left
    assert list(store.document_states()) == [b.document.id]

    before = dump(store)
    store.delete_documents([a.document.id, "doc:unknown"])  # again: nothing happens
    assert dump(store) == before

    store.delete_documents([b.document.id])
    assert store.counts() == dict.fromkeys(store.counts(), 0)
    assert store.graph.number_of_nodes() == 0
    assert store.find_entities(["acme", "alice smith"]) == []


def test_delete_then_write_gives_the_graph_of_a_fresh_write(store):
    store.delete_documents([document_a().document.id])
    store.write_documents([document_a()])
    fresh = NetworkXStore(None)
    fresh.model_id, fresh.schema_fingerprint = "test-model", "abc123"
    fresh.write_documents(sample_graphs())
    assert dump(store) == dump(fresh)


# -- state, alias index -------------------------------------------------------------------


def test_document_states(store):
    states = store.document_states()
    assert sorted(s.source for s in states.values()) == ["a.txt", "b.txt"]
    state = states[document_b().document.id]
    assert state.content_hash == document_b().document.content_hash
    assert state.model_id == "test-model"
    assert state.schema_fingerprint == "abc123"


def test_find_entities_uses_every_key(store):
    (acme,) = store.find_entities(["acme"])  # a key only document B added
    assert acme.id == entity_id("Acme Corp")
    assert acme.aliases == ["Acme", "Acme Corp"]
    assert acme.mention_count == 4
    found = store.find_entities(["alice smith", "acme corp", "nobody"])
    assert [e.id for e in found] == sorted([entity_id("Alice Smith"), entity_id("Acme Corp")])
    assert store.find_entities([]) == []


def test_entity_neighbours_and_documents_come_from_relations_and_mentions(store):
    a, b = document_a(), document_b()
    alice, acme = entity_id("Alice Smith"), entity_id("Acme Corp")
    both = {a.document.id, b.document.id}
    nbrs = store.entity_neighbours([acme, alice, "entity:unknown"])
    assert nbrs[alice][acme] == both  # works for, in both documents
    assert alice in nbrs[acme]  # either direction
    assert nbrs["entity:unknown"] == {}
    docs = store.entity_documents([acme, entity_id("Paris")])
    assert docs[acme] == both
    assert docs[entity_id("Paris")] == {
        g.document.id for g in (a, b) if any(m.entity_id == entity_id("Paris") for m in g.mentions)
    }
    # The graph walk answers as the store interface's Cypher does.
    ids = [acme, alice, entity_id("Paris"), entity_id("Bob Jones")]
    assert store.entity_neighbours(ids) == GraphStore.entity_neighbours(store, ids)
    assert store.entity_documents(ids) == GraphStore.entity_documents(store, ids)


def test_mentions_keep_their_short_form_key(store):
    doc = document_a()
    mention = doc.mentions[0].model_copy(update={"keys": ["n:alice smith", "l:smith"]})
    doc.mentions[0] = mention
    store.write_documents([doc])
    assert store.graph.nodes[mention.id]["short_key"] == "l:smith"
    assert [e.id for e in store.find_entities(["l:smith"])] == [entity_id("Alice Smith")]


# -- bad input ----------------------------------------------------------------------------


def test_a_bad_graph_is_refused_before_anything_changes(store):
    before = dump(store)
    bad = document_a()
    bad.mentions[0].entity_id = "entity:missing"
    with pytest.raises(ValueError, match=r"a\.txt.*unknown entity entity:missing"):
        store.write_documents([bad])
    assert dump(store) == before

    bad = document_a()
    bad.entities[0].type = "Document"  # maps to a reserved label
    with pytest.raises(ValueError, match=r"a\.txt.*reserved"):
        store.write_documents([bad])
    assert dump(store) == before

    bad = document_b()
    bad.relations[0].evidence[0].chunk_id = "chunk:elsewhere"
    with pytest.raises(ValueError, match=r"b\.txt.*evidence of relation"):
        store.write_documents([bad])
    assert dump(store) == before


# -- files --------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path, store):
    path = tmp_path / "graph.json"
    store.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["graph"]["format"] == module.FILE_FORMAT
    assert nx.node_link_graph(data, edges="edges").number_of_edges() == (
        store.graph.number_of_edges()
    )

    with NetworkXStore(path) as loaded:
        assert dump(loaded) == dump(store)
        assert isinstance(loaded.graph.nodes[entity_id("Paris")]["__labels__"], set)
        assert [e.id for e in loaded.find_entities(["acme"])] == [entity_id("Acme Corp")]
        # The per-document index is rebuilt too: a delete after loading is complete.
        loaded.delete_documents([document_a().document.id])
        assert loaded.counts()["entities"] == 3
    with NetworkXStore(path) as reloaded:
        assert reloaded.counts()["documents"] == 1


def test_store_opens_lazily_and_close_saves(tmp_path):
    path = tmp_path / "sub" / "graph.json"
    with NetworkXStore(path) as store:
        store.write_documents([document_a()])
    assert path.exists()
    later = NetworkXStore(path)  # no open(): the first call loads the file
    assert later.counts()["documents"] == 1
    later.write_documents([document_b()])
    later.close()
    assert NetworkXStore(path).counts()["documents"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["graph.json"]  # no temp files


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "graph.json"
    with NetworkXStore(path) as store:
        store.write_documents([document_a()])
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(module.os, "replace", crash)
    store = NetworkXStore(path)
    store.write_documents([document_b()])
    with pytest.raises(OSError, match="disk full"):
        store.close()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["graph.json"]


def test_an_unreadable_file_raises_naming_it(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text('{"nodes": []}', encoding="utf-8")
    with pytest.raises(StoreError, match="graph.json.*format"):
        NetworkXStore(path).open()
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot read graph file"):
        NetworkXStore(path).counts()


def test_export_graphml_is_readable_by_networkx(tmp_path, store):
    path = tmp_path / "graph.graphml"
    store.export_graphml(path)
    read = nx.read_graphml(path, force_multigraph=True)
    assert read.number_of_nodes() == store.graph.number_of_nodes()
    assert read.number_of_edges() == store.graph.number_of_edges()
    acme = read.nodes[entity_id("Acme Corp")]
    assert json.loads(acme["__labels__"]) == ["Entity", "Organization"]
    assert json.loads(acme["aliases"]) == ["Acme", "Acme Corp"]
    assert acme["mention_count"] == 4
    rid = relation_id("Alice Smith", "works for", "Acme Corp")
    edge = read.edges[entity_id("Alice Smith"), entity_id("Acme Corp"), rid]
    assert json.loads(edge["__labels__"]) == ["WORKS_FOR"]
    original = store.graph.edges[entity_id("Alice Smith"), entity_id("Acme Corp"), rid]
    assert json.loads(edge["evidence_scores"]) == original["evidence_scores"]
    assert edge["score"] == 0.9


def test_export_json_matches_the_store_file(tmp_path, store):
    store.export_json(tmp_path / "export.json")
    assert (tmp_path / "export.json").read_text(encoding="utf-8") == dump(store)


# -- factory ------------------------------------------------------------------------------


def test_open_store_picks_the_backend(monkeypatch, tmp_path):
    store = open_store(str(tmp_path / "graph.JSON"))
    assert isinstance(store, NetworkXStore)
    assert not (tmp_path / "graph.JSON").exists()  # unopened: nothing written yet

    monkeypatch.setenv("NEO4J_USERNAME", "alice")
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("NEO4J_DATABASE", "kg")
    from kgbuild.store.neo4j_store import Neo4jStore

    neo = open_store("neo4j+s://example.org:7687")
    assert isinstance(neo, Neo4jStore)
    assert (neo.user, neo.database) == ("alice", "kg")
    assert open_store("bolt://localhost:7687", user="bob", database="other").user == "bob"

    for bad in ["graph.txt", "http://user:hunter22@example.org", "", "s3://bucket/graph.json"]:
        with pytest.raises(ValueError, match="not a graph store") as info:
            open_store(bad)
        assert "hunter22" not in str(info.value)


def test_saved_file_is_canonical_json_written_in_pieces(store, tmp_path):
    from tests.store.test_cypher_queries import STRANGE

    first = next(n for n in store.graph.nodes if "Entity" in labels(store, n))
    store.graph.nodes[first]["name"] = STRANGE  # quotes, backslash, U+2028, newline, emoji
    path = tmp_path / "graph.json"
    store.save(path)
    text = path.read_text(encoding="utf-8")
    canonical = json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True, indent=1)
    assert text == canonical + "\n" == dump(store)
    assert NetworkXStore(path).query(
        "MATCH (e:Entity) WHERE e.name = $name RETURN e.id AS id", {"name": STRANGE}
    ) == [{"id": first}]
