"""The NetworkX store's Cypher mirror: bulk-loaded, kept on disk per store file, reused.

A store whose graph is its saved file's content keeps its embedded ArcadeDB mirror in
kgbuild's cache (``$KGBUILD_CACHE_DIR``, a folder of this test session, see
tests/conftest.py) under the file's path and content digest: a second store on the same
unchanged file reuses it, a changed file gets a new one, and a partial or damaged
mirror is rebuilt. Unsaved writes get a private temporary mirror.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import networkx as nx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # sample_graphs.py

from sample_graphs import sample_graphs  # noqa: E402

from kgbuild import ids  # noqa: E402
from kgbuild.store import NetworkXStore  # noqa: E402
from kgbuild.store.cypher_embedded import (  # noqa: E402
    MARKER,
    EmbeddedCypher,
    MirrorSource,
    cache_root,
    file_digest,
    mirror_dir,
)

PEOPLE = "MATCH (p:Entity:Person) RETURN p.name AS name ORDER BY name"
WORKS_FOR = (
    "MATCH (p:Person)-[r:WORKS_FOR]->(o:Organization) "
    "RETURN p.name AS person, o.name AS org, r.evidence_count AS n ORDER BY person"
)
LABELS = "MATCH (e:Entity {name: $name}) RETURN labels(e) AS labels"


def drop_document_b(store: NetworkXStore) -> None:
    """Delete sample document B: Bob Jones, seen only there, goes with it."""
    store.delete_documents([ids.document_id("b.txt")])


@pytest.fixture
def graph_file(tmp_path: Path) -> Path:
    """A saved store file holding the two sample documents."""
    path = tmp_path / "graph.json"
    with NetworkXStore(path) as store:
        store.write_documents(sample_graphs())
    return path


def query(path: Path, cypher: str, **parameters) -> tuple[list[dict], EmbeddedCypher]:
    """Run one query on a fresh store over ``path``; its rows and its mirror (still open)."""
    store = NetworkXStore(path)
    rows = store.query(cypher, parameters)
    engine = store._cypher
    assert engine is not None
    return rows, engine


def test_a_second_store_on_the_unchanged_file_reuses_the_mirror(graph_file: Path):
    first_rows, first = query(graph_file, PEOPLE)
    assert first_rows == [{"name": "Alice Smith"}, {"name": "Bob Jones"}]
    assert not first.reused and first.build_seconds is not None
    folder = first.mirror
    assert folder is not None and folder.is_relative_to(cache_root() / "cypher")
    marker = json.loads((folder / MARKER).read_text())
    assert marker["store"] == str(graph_file.resolve())
    assert marker["digest"] == file_digest(graph_file)
    first.close()
    assert folder.is_dir()  # a kept mirror outlives its store

    rows, second = query(graph_file, PEOPLE)
    assert rows == first_rows
    assert second.reused and second.build_seconds is None
    assert second.mirror == folder
    assert json.loads((folder / MARKER).read_text())["built_at"] == marker["built_at"]
    second.close()
    assert query(graph_file, LABELS, name="Acme Corp")[0] == [
        {"labels": ["Entity", "Organization"]}
    ]


def test_a_changed_file_gets_a_new_mirror_and_the_old_one_goes(graph_file: Path):
    _, first = query(graph_file, PEOPLE)
    old = first.mirror
    first.close()
    with NetworkXStore(graph_file) as store:
        drop_document_b(store)

    rows, second = query(graph_file, PEOPLE)
    assert rows == [{"name": "Alice Smith"}]
    assert not second.reused
    assert second.mirror != old and not old.exists()
    assert sorted(p.name for p in second.mirror.parent.iterdir() if p.is_dir()) == [
        second.mirror.name
    ]
    second.close()


def test_unsaved_writes_use_a_private_mirror_then_saving_keeps_one(graph_file: Path):
    store = NetworkXStore(graph_file)
    drop_document_b(store)
    assert store.query(PEOPLE) == [{"name": "Alice Smith"}]
    private = store._cypher.mirror
    assert not private.is_relative_to(cache_root())
    store.save()
    assert store.query(PEOPLE) == [{"name": "Alice Smith"}]
    kept = store._cypher.mirror
    assert not private.exists()  # the private copy is deleted once replaced
    assert kept.is_relative_to(cache_root())
    store.close()
    rows, again = query(graph_file, PEOPLE)
    assert again.reused and again.mirror == kept and rows == [{"name": "Alice Smith"}]
    again.close()


def test_a_file_rewritten_by_another_process_is_not_mistaken_for_the_loaded_graph(
    graph_file: Path,
):
    reader = NetworkXStore(graph_file)
    reader.open()
    with NetworkXStore(graph_file) as writer:  # "another process" rewrites the file
        drop_document_b(writer)
    # The reader still holds the two-document graph and must answer for it.
    assert len(reader.query(PEOPLE)) == 2
    assert not reader._cypher.mirror.is_relative_to(cache_root())
    reader.close()
    assert len(query(graph_file, PEOPLE)[0]) == 1


def test_a_partial_mirror_without_its_marker_is_rebuilt(graph_file: Path):
    _, first = query(graph_file, WORKS_FOR)
    folder = first.mirror
    first.close()
    (folder / MARKER).unlink()  # as if the build had been killed before finishing
    rows, second = query(graph_file, WORKS_FOR)
    assert not second.reused and second.mirror == folder and (folder / MARKER).is_file()
    assert rows == [
        {"person": "Alice Smith", "org": "Acme Corp", "n": 2},
        {"person": "Bob Jones", "org": "Acme Corp", "n": 1},
    ]
    second.close()


@pytest.mark.parametrize("damage", ["database gone", "schema garbled", "counts wrong"])
def test_a_damaged_mirror_is_rebuilt(graph_file: Path, damage: str):
    _, first = query(graph_file, WORKS_FOR)
    folder = first.mirror
    first.close()
    if damage == "database gone":
        shutil.rmtree(folder / "graph")
    elif damage == "schema garbled":
        for schema in (folder / "graph").glob("schema*.json"):
            schema.write_text("{not json")
    else:
        marker = json.loads((folder / MARKER).read_text())
        (folder / MARKER).write_text(json.dumps({**marker, "nodes": marker["nodes"] + 1}))
    rows, second = query(graph_file, WORKS_FOR)
    assert not second.reused
    assert [r["person"] for r in rows] == ["Alice Smith", "Bob Jones"]
    second.close()
    assert query(graph_file, WORKS_FOR)[1].reused


def test_leftovers_of_a_killed_build_are_removed(graph_file: Path):
    source = MirrorSource(graph_file.resolve(), file_digest(graph_file))
    leftover = mirror_dir(source).parent / ".build-killed"
    leftover.mkdir(parents=True)
    (leftover / "junk").write_text("x")
    _, engine = query(graph_file, PEOPLE)
    assert not leftover.exists() and not engine.reused
    engine.close()


def test_mirrors_of_deleted_store_files_are_removed(graph_file: Path, tmp_path: Path):
    gone = tmp_path / "gone.json"
    shutil.copy(graph_file, gone)
    _, engine = query(gone, PEOPLE)
    orphan = engine.mirror
    engine.close()
    gone.unlink()
    _, engine = query(graph_file, PEOPLE)  # builds a mirror: prunes the orphan
    assert not orphan.exists() and engine.mirror.is_dir()
    engine.close()


def test_an_unwritable_cache_falls_back_to_a_temporary_mirror(
    graph_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("KGBUILD_CACHE_DIR", str(blocked))
    rows, engine = query(graph_file, PEOPLE)
    assert len(rows) == 2
    assert not engine.mirror.is_relative_to(blocked)
    engine.close()


def test_the_bulk_load_keeps_labels_types_and_values_exactly():
    graph = nx.MultiDiGraph()
    graph.add_node("a", id="a", __labels__={"Entity", "Person"}, name="Ann", tags=["x", "y"])
    graph.add_node("b", id="b", __labels__={"Organization", "Entity"}, n=2**40, f=1.0)
    graph.add_node("c", id="c", __labels__=set(), odd=math.inf, pair=(1, 2))  # slow path
    graph.add_edge("a", "b", key="r1", __labels__={"WORKS_FOR"}, ids=["d1"], score=0.5)
    graph.add_edge("b", "c", key="r2", __labels__={"NEAR"}, weird=math.nan)  # slow path
    graph.add_edge("a", "c", key="r3", __labels__={"KNOWS"})
    engine = EmbeddedCypher()
    try:
        q = engine.query
        assert q(graph, 1, "MATCH (n) RETURN n.id AS id, labels(n) AS l ORDER BY id") == [
            {"id": "a", "l": ["Entity", "Person"]},
            {"id": "b", "l": ["Entity", "Organization"]},
            {"id": "c", "l": ["_Node"]},
        ]
        assert q(graph, 1, "MATCH (n:Person) RETURN n") == [
            {"n": {"id": "a", "name": "Ann", "tags": ["x", "y"]}}
        ]
        assert q(graph, 1, "MATCH (n:Entity {id: 'b'}) RETURN n.n AS n, n.f AS f") == [
            {"n": 2**40, "f": 1.0}
        ]
        assert q(graph, 1, "MATCH (n:_Node) RETURN n.odd AS odd, n.pair AS pair") == [
            {"odd": math.inf, "pair": [1, 2]}
        ]
        rows = q(graph, 1, "MATCH (a)-[r]->(b) RETURN a.id, type(r) AS t, r, b.id ORDER BY t")
        assert [(r["a.id"], r["t"], r["b.id"]) for r in rows] == [
            ("a", "KNOWS", "c"),
            ("b", "NEAR", "c"),
            ("a", "WORKS_FOR", "b"),
        ]
        assert rows[2]["r"] == {"ids": ["d1"], "score": 0.5}
        assert math.isnan(rows[1]["r"]["weird"])
        # Incoming direction works (edges are connected at both ends).
        assert q(graph, 1, "MATCH (c {id: 'c'})<-[r]-(x) RETURN count(r) AS n") == [{"n": 2}]
        mirror = engine.mirror
        assert mirror is not None and mirror.is_dir()
    finally:
        engine.close()
    assert not mirror.exists()  # a private mirror is deleted on close
    assert os.environ["KGBUILD_CACHE_DIR"]  # tests never touch the user's cache
