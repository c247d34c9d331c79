"""The viewer's query layer: what it picks from a store, and the text it puts beside it.

Runs on the NetworkX store, and on the Bolt test server, where it must give exactly the
same :class:`ViewGraph` (one query layer, one picture).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_graphs import entity_id, relation_id, sample_graphs
from synthetic import hostile_graph, synthetic_graphs

import kgbuild
from kgbuild.store import NetworkXStore
from kgbuild.viewer import ViewError, ViewGraph
from kgbuild.viewer.data import Selection, load_view_graph


def write_store(path: Path, graphs) -> Path:
    with NetworkXStore(path) as store:
        store.write_documents(graphs)
    return path


@pytest.fixture
def sample_store(tmp_path) -> Path:
    return write_store(tmp_path / "sample.json", sample_graphs())


def document_texts(store_path: Path | str) -> dict[str, str]:
    with kgbuild.open_store(store_path) as store:
        rows = store.query("MATCH (d:Document) RETURN d.id AS id, d.text AS text")
    return {r["id"]: r["text"] for r in rows}


def check_spans(graph: ViewGraph, texts: dict[str, str]) -> int:
    """Every highlighted span is the document text at its offsets; returns how many."""
    checked = 0
    for entity in graph.entities:
        for m in entity.mentions:
            text = texts[m.document_id]
            assert m.text == text[m.start : m.end]
            (marked,) = [p for p in m.pieces if p.mark == "mention"]
            assert marked.text == m.text
            sentence = "".join(p.text for p in m.pieces).strip("…")
            assert sentence in text  # the pieces are one unbroken stretch of the text
            checked += 1
    for relation in graph.relations:
        for ev in relation.evidence:
            text = texts[ev.document_id]
            assert ev.head_text == text[ev.head_start : ev.head_end]
            assert ev.tail_text == text[ev.tail_start : ev.tail_end]
            marks = {p.mark: p.text for p in ev.pieces if p.mark}
            assert marks == {"head": ev.head_text, "tail": ev.tail_text}
            assert "".join(p.text for p in ev.pieces).strip("…") in text
            checked += 1
    return checked


def test_sample_graph_entities_relations_and_evidence(sample_store):
    graph = kgbuild.view(sample_store).graph
    by_name = {e.name: e for e in graph.entities}
    assert [e.name for e in graph.entities] == ["Acme Corp", "Alice Smith", "Bob Jones", "Paris"]
    acme = by_name["Acme Corp"]
    assert (acme.type, acme.mention_count, acme.aliases) == (
        "organization",
        4,
        ["Acme", "Acme Corp"],
    )
    assert len(acme.mentions) == 4
    assert graph.entities_left_out == graph.relations_left_out == 0

    relations = {r.id: r for r in graph.relations}
    assert set(relations) == {
        relation_id("Alice Smith", "works for", "Acme Corp"),
        relation_id("Bob Jones", "works for", "Acme Corp"),
        relation_id("Acme Corp", "located in", "Paris"),
    }
    alice = relations[relation_id("Alice Smith", "works for", "Acme Corp")]
    assert (alice.head, alice.tail, alice.type) == (
        entity_id("Alice Smith"),
        entity_id("Acme Corp"),
        "works for",
    )
    assert alice.evidence_count == 2 and len(alice.evidence) == 2
    assert {(e.source, e.head_text, e.tail_text) for e in alice.evidence} == {
        ("a.txt", "Alice Smith", "Acme Corp"),
        ("b.txt", "Alice Smith", "Acme"),
    }
    b_evidence = next(e for e in alice.evidence if e.source == "b.txt")
    # "Corp." is an abbreviation to the sentence splitter: one sentence for the whole text
    assert [(p.text, p.mark) for p in b_evidence.pieces] == [
        ("Bob Jones works for Acme Corp. ", None),
        ("Alice Smith", "head"),
        (" joined ", None),
        ("Acme", "tail"),
        (".", None),
    ]
    assert b_evidence.chunk_index == 1
    assert check_spans(graph, document_texts(sample_store)) == 4 + 2 + 1 + 1 + 4


def test_every_highlight_of_the_example_graph_is_the_document_text(example_store):
    graph = kgbuild.view(example_store).graph
    with kgbuild.open_store(example_store) as store:
        counts = store.counts()
    assert len(graph.entities) == counts["entities"]
    assert len(graph.relations) == counts["relations"]
    assert check_spans(graph, document_texts(example_store)) > 100


def test_unicode_offsets_are_code_points(tmp_path):
    from synthetic import graph_from_text

    text = "🤖 Émile Garnier works for Lumière Optique Inc in 東京.\r\nZoë visited 東京."
    graph = graph_from_text(
        "unicode.txt",
        text,
        [
            ("Émile Garnier", "person"),
            ("Lumière Optique Inc", "organization"),
            ("東京", "location"),
        ],
        [(0, "works for", 1), (1, "located in", 2)],
    )
    path = write_store(tmp_path / "u.json", [graph])
    view = kgbuild.view(path).graph
    assert check_spans(view, {graph.document.id: text}) == 5
    tokyo = next(e for e in view.entities if e.name == "東京")
    start = text.index("東京")  # a code-point offset (the emoji is one character)
    assert (tokyo.mentions[0].start, tokyo.mentions[0].end) == (start, start + 2)


def test_degree_rank_documents_of_the_sample_graph(sample_store):
    graph = kgbuild.view(sample_store).graph
    by_name = {e.name: e for e in graph.entities}
    assert {n: e.degree for n, e in by_name.items()} == {
        "Acme Corp": 3,
        "Alice Smith": 1,
        "Bob Jones": 1,
        "Paris": 1,
    }
    # rank: relations + mentions, more first (Acme 3 + 4, Alice 1 + 2, then 1 + 1 by name)
    ranked = sorted(graph.entities, key=lambda e: e.rank)
    assert [e.name for e in ranked] == ["Acme Corp", "Alice Smith", "Bob Jones", "Paris"]
    a, b = (ids_of(graph, "a.txt"), ids_of(graph, "b.txt"))
    assert by_name["Acme Corp"].documents == sorted([a, b])
    assert by_name["Paris"].documents == [a] and by_name["Bob Jones"].documents == [b]
    assert {(d.source, d.entity_count) for d in graph.documents} == {("a.txt", 3), ("b.txt", 3)}
    assert {r.type: r.documents for r in graph.relations if r.type == "located in"} == {
        "located in": [a]
    }
    assert all(e.community is not None for e in graph.entities)  # all connected


def ids_of(graph: ViewGraph, source: str) -> str:
    (found,) = [d.id for d in graph.documents if d.source == source]
    return found


def test_communities_follow_the_clusters_and_skip_entities_without_relations(tmp_path):
    from synthetic import graph_from_text

    text = "Ann, Bob and Cid met. Dan, Eve and Fay met. Gus slept."
    names = ["Ann", "Bob", "Cid", "Dan", "Eve", "Fay", "Gus"]
    triangles = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)]
    graph = graph_from_text(
        "clusters.txt",
        text,
        [(n, "person") for n in names],
        [(h, "knows", t) for h, t in triangles],
    )
    view = kgbuild.view(write_store(tmp_path / "c.json", [graph])).graph
    community = {e.name: e.community for e in view.entities}
    assert community["Gus"] is None
    assert community["Ann"] == community["Bob"] == community["Cid"]
    assert community["Dan"] == community["Eve"] == community["Fay"]
    assert {community["Ann"], community["Dan"]} == {0, 1}
    gus = next(e for e in view.entities if e.name == "Gus")
    assert (gus.degree, gus.rank) == (0, len(names) - 1)  # no relation: ranked last


def test_limit_keeps_the_most_mentioned_and_counts_what_it_left_out(sample_store):
    graph = kgbuild.view(sample_store, limit=2).graph
    assert [e.name for e in graph.entities] == ["Acme Corp", "Alice Smith"]
    assert [r.id for r in graph.relations] == [relation_id("Alice Smith", "works for", "Acme Corp")]
    assert (graph.entities_left_out, graph.relations_left_out) == (2, 2)


def test_max_evidence_caps_mentions_and_counts_the_rest(sample_store):
    graph = kgbuild.view(sample_store, max_evidence=1).graph
    acme = next(e for e in graph.entities if e.name == "Acme Corp")
    assert (len(acme.mentions), acme.mentions_left_out) == (1, 3)
    alice = next(r for r in graph.relations if r.evidence_count == 2)
    assert (len(alice.evidence), alice.evidence_left_out) == (1, 1)


def test_entity_neighbourhood_by_hops(sample_store):
    one = kgbuild.view(sample_store, entity="Paris", hops=1).graph
    assert [e.name for e in one.entities] == ["Paris", "Acme Corp"]  # the seed first
    assert len(one.relations) == 1
    two = kgbuild.view(sample_store, entity="Paris", hops=2).graph
    assert {e.name for e in two.entities} == {"Paris", "Acme Corp", "Alice Smith", "Bob Jones"}
    assert len(two.relations) == 3
    zero = kgbuild.view(sample_store, entity="Paris", hops=0).graph
    assert [e.name for e in zero.entities] == ["Paris"] and zero.relations == []


def test_entity_found_by_alias_ignoring_case(sample_store):
    graph = kgbuild.view(sample_store, entity="acme", hops=0).graph
    assert [e.name for e in graph.entities] == ["Acme Corp"]


def test_unknown_entity_names_the_closest(sample_store):
    with pytest.raises(ViewError, match="no entity named 'Alise Smith'; closest names: 'Alice"):
        kgbuild.view(sample_store, entity="Alise Smith")


def test_type_selection_and_unknown_type(sample_store):
    graph = kgbuild.view(sample_store, type="person").graph
    assert [e.name for e in graph.entities] == ["Alice Smith", "Bob Jones"]
    assert graph.relations == []  # both ends must be shown
    with pytest.raises(ViewError, match="no entities of type 'widget'; the graph has: location"):
        kgbuild.view(sample_store, type="widget")


def test_query_selection_with_nodes_relationships_or_ids(sample_store):
    nodes = kgbuild.view(
        sample_store,
        query="MATCH (e:Entity) WHERE e.type = $t RETURN e",
        parameters={"t": "person"},
    ).graph
    assert {e.name for e in nodes.entities} == {"Alice Smith", "Bob Jones"}

    # relationships returned: exactly those are drawn, with both ends
    rels = kgbuild.view(
        sample_store, query="MATCH (a:Entity)-[r:LOCATED_IN]->(b:Entity) RETURN r.id AS id"
    ).graph
    assert {e.name for e in rels.entities} == {"Acme Corp", "Paris"}
    assert [r.type for r in rels.relations] == ["located in"]

    # entities only: every relation between them
    ids = kgbuild.view(
        sample_store, query='MATCH (e:Entity) WHERE e.type <> "location" RETURN e.id AS id'
    ).graph
    assert len(ids.relations) == 2

    with pytest.raises(ViewError, match="returned 4 row\\(s\\) but no entities"):
        kgbuild.view(sample_store, query="MATCH (e:Entity) RETURN e.name AS name")


def test_one_selection_at_a_time_and_a_missing_file(sample_store, tmp_path):
    with pytest.raises(ViewError, match="at most one of query, entity, type"):
        kgbuild.view(sample_store, entity="Paris", type="location")
    with pytest.raises(FileNotFoundError, match="missing.json does not exist"):
        kgbuild.view(tmp_path / "missing.json")


def test_an_open_store_is_used_as_it_is(sample_store):
    with NetworkXStore(sample_store) as store:
        graph = load_view_graph(store, Selection(limit=3))
    assert len(graph.entities) == 3 and graph.store == str(sample_store)


def test_large_graph_within_limit(tmp_path):
    path = write_store(tmp_path / "big.json", synthetic_graphs(1200))
    graph = kgbuild.view(path, limit=1000).graph
    assert len(graph.entities) == 1000 and graph.entities_left_out == 200
    counts = [e.mention_count for e in graph.entities]
    assert counts == sorted(counts, reverse=True)
    assert len(graph.relations) + graph.relations_left_out == 1200


# -- the same view from the Bolt server ------------------------------------------------------


def _neo4j_store(server):
    from kgbuild.store.neo4j_store import Neo4jStore

    return Neo4jStore(server.uri, server.user, server.password, server.database)


def _comparable(graph: ViewGraph) -> dict:
    data = graph.model_dump(exclude={"store"})
    data["relations"].sort(key=lambda r: r["id"])
    return data


def test_the_bolt_server_gives_the_same_view(empty_bolt_graph, tmp_path):
    graphs = [*sample_graphs(), hostile_graph()]
    path = write_store(tmp_path / "same.json", graphs)
    with _neo4j_store(empty_bolt_graph) as store:
        store.setup_schema()
        store.write_documents(graphs)
    selections = [
        {},
        {"limit": 3},
        {"entity": "Paris", "hops": 2},
        {"type": "person"},
        {
            "query": "MATCH (a:Entity)-[r]->(b:Entity) WHERE b.name = $n RETURN a, r, b",
            "parameters": {"n": "Acme Corp"},
        },
    ]
    for selection in selections:
        from_file = kgbuild.view(path, **selection).graph
        with _neo4j_store(empty_bolt_graph) as store:
            from_server = kgbuild.view(store, **selection).graph
        assert _comparable(from_server) == _comparable(from_file), selection
        assert from_server.store == empty_bolt_graph.uri
    assert len(kgbuild.view(path).graph.entities) == 8
