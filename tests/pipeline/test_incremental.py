"""Incremental ingestion on both stores: after adding, changing and deleting documents
between runs, the graph equals a fresh ingest of the final collection; two runs at once
on one store are prevented by the run lock.

The Neo4j half runs against the Bolt test server (``scripts/test-server start``; skipped
without one, failed under CI=true). The helpers that dump a graph canonically are shared
with ``test_kill_and_lock.py`` and ``test_watch.py``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_extractor import FakeExtractor

import kgbuild
from kgbuild.pipeline import BuildConfig, IngestSummary, KnowledgeGraphBuilder
from kgbuild.pipeline.lock import LOCK_LABEL, LockHeld, run_lock
from kgbuild.store import NetworkXStore

# -- graph dumps, compared across runs -------------------------------------------------------

#: Properties that differ between two identical ingests: the time of writing.
VOLATILE = {"ingested_at"}


def networkx_dump(path: Path) -> dict[str, Any]:
    """A saved NetworkX graph (node-link JSON) without the write times."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for node in data["nodes"]:
        for key in VOLATILE:
            node.pop(key, None)
    return data


def bolt_dump(server: Any) -> dict[str, Any]:
    """Every node and relationship of the test database, canonical, without write times.

    Nodes sort by labels and id (the alias index's helper nodes by key); relationships by
    type and ends. The run lock's helper node is left out: it is not part of the graph.
    """
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
        nodes, _, _ = driver.execute_query(
            f"MATCH (n) WHERE NOT n:`{LOCK_LABEL}` "
            "RETURN labels(n) AS labels, properties(n) AS props",
            database_=server.database,
        )
        edges, _, _ = driver.execute_query(
            "MATCH (a)-[r]->(b) RETURN type(r) AS type, coalesce(a.id, a.key) AS source, "
            "coalesce(b.id, b.key) AS target, properties(r) AS props",
            database_=server.database,
        )

    def canonical(props: dict[str, Any]) -> str:
        return json.dumps(
            {k: v for k, v in props.items() if k not in VOLATILE}, sort_keys=True, default=str
        )

    return {
        "nodes": sorted((sorted(r["labels"]), canonical(r["props"])) for r in nodes),
        "edges": sorted(
            (r["type"], r["source"], r["target"], canonical(r["props"])) for r in edges
        ),
    }


def entity_names(dump: dict[str, Any]) -> set[str]:
    """Names of the entities in a dump of either kind."""
    names = set()
    for node in dump["nodes"]:
        if isinstance(node, dict):  # NetworkX node-link
            labels, props = node.get("__labels__", []), node
        else:  # (labels, canonical JSON) from bolt_dump
            labels, props = node[0], json.loads(node[1])
        if "Entity" in labels:
            names.add(props["name"])
    return names


# -- stores -----------------------------------------------------------------------------------


class Target:
    """One store under test: how to open it, reset it and dump it."""

    def __init__(self, kind: str, tmp_path: Path, server: Any = None) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.server = server
        self._files = 0

    def store(self, name: str = "graph"):
        """A new, unopened store object (NetworkX: a file per name; Neo4j: the test DB)."""
        if self.kind == "networkx":
            return NetworkXStore(self.tmp_path / f"{name}.json")
        from kgbuild.store.neo4j_store import Neo4jStore

        s = self.server
        return Neo4jStore(s.uri, s.user, s.password, s.database, batch_size=200)

    def store_arg(self, name: str = "graph") -> str:
        """The STORE string of the CLI (NetworkX: a path; Neo4j: the URI)."""
        return str(self.tmp_path / f"{name}.json") if self.kind == "networkx" else self.server.uri

    def dump(self, name: str = "graph") -> dict[str, Any]:
        if self.kind == "networkx":
            return networkx_dump(self.tmp_path / f"{name}.json")
        return bolt_dump(self.server)

    def wipe(self) -> None:
        if self.kind == "neo4j":
            from tests.conftest import wipe_bolt_graph

            wipe_bolt_graph(self.server)


#: Parameters of a fixture that runs a test on each store.
STORES = ["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)]


def make_target(request, tmp_path: Path) -> Target:
    """The store a ``params=STORES`` fixture asks for (Neo4j: the emptied test server)."""
    if request.param == "networkx":
        return Target("networkx", tmp_path)
    return Target("neo4j", tmp_path, request.getfixturevalue("empty_bolt_graph"))


@pytest.fixture(params=STORES)
def target(request, tmp_path) -> Target:
    return make_target(request, tmp_path)


def ingest(store, paths, extractor=None, **config) -> Any:
    """One ingest run with the test extractor; ``store`` is closed afterwards."""
    builder = KnowledgeGraphBuilder(
        store, extractor=extractor or FakeExtractor(), config=BuildConfig(**config), progress=False
    )
    try:
        return builder.ingest(paths)
    finally:
        store.close()


# -- a collection that changes ------------------------------------------------------------------

VERSION_1 = {
    "a.txt": "Alice Smith works for Acme Inc in Paris, and Carol White works for Acme Inc.",
    "b.txt": "Bob Jones works for Globex Corp in Berlin.",
    "c.md": "# Notes\n\nDave Brown works for Initech Corp in London, where Alice Smith met him.",
    "records.jsonl": [
        {"id": "r1", "text": "Erin Green works for Acme Inc in Tokyo."},
        {"id": "r2", "text": "Frank Black works for Globex Corp."},
    ],
}
# a.txt unchanged; b.txt changed (Globex and Berlin lose its evidence); c.md deleted (Initech,
# London and Dave Brown go, Alice Smith stays through a.txt); d.txt new (Berlin back);
# in records.jsonl r1 changed, r2 deleted (Globex gone entirely), r3 new.
VERSION_2 = {
    "a.txt": VERSION_1["a.txt"],
    "b.txt": "Bob Jones works for Umbrella Corp in Paris.",
    "d.txt": "Grace Hall works for Acme Inc in Berlin, and Bob Jones knows Grace Hall.",
    "records.jsonl": [
        {"id": "r1", "text": "Erin Green works for Initech Corp in Tokyo."},
        {"id": "r3", "text": "Heidi Klum works for Umbrella Corp in New York."},
    ],
}


def write_collection(folder: Path, files: dict[str, Any]) -> Path:
    """Make ``folder`` hold exactly ``files`` (str: text; list: JSONL records)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.name not in files:
            old.unlink()
    for name, content in files.items():
        if isinstance(content, list):
            content = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in content)
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
    return folder


class CountingExtractor(FakeExtractor):
    """The test extractor, counting the texts it is asked to read."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def extract(self, texts, *args, **kwargs):
        self.texts += len(texts)
        return super().extract(texts, *args, **kwargs)


# -- add, change, delete ------------------------------------------------------------------------


def test_changes_between_runs_give_the_graph_of_a_fresh_ingest(target, tmp_path):
    docs = write_collection(tmp_path / "docs", VERSION_1)
    first = ingest(target.store(), [docs], prune=True)
    assert first.documents.new == 5 and first.ok

    write_collection(docs, VERSION_2)
    counting = CountingExtractor()
    second = ingest(target.store(), [docs], counting, prune=True)
    d = second.documents
    assert (d.new, d.changed, d.unchanged, d.deleted, d.pruned, d.failed) == (2, 2, 1, 2, 2, 0)
    assert sorted(Path(s).name for s in second.deleted_sources) == ["c.md", "records.jsonl#r2"]
    # Only the new and changed documents were read (one chunk each).
    assert counting.texts == 4
    incremental = target.dump()

    target.wipe()
    fresh = ingest(target.store("fresh"), [docs], prune=True)
    assert fresh.documents.new == 5
    assert target.dump("fresh") == incremental

    names = entity_names(incremental)
    assert {"Alice Smith", "Berlin", "Umbrella Corp", "Initech Corp"} <= names
    assert not names & {"Globex Corp", "London", "Dave Brown", "Frank Black"}


def test_unchanged_rerun_reads_nothing_and_changes_nothing(target, tmp_path):
    docs = write_collection(tmp_path / "docs", VERSION_1)
    ingest(target.store(), [docs])
    before = target.dump()

    counting = CountingExtractor()
    again = ingest(target.store(), [docs], counting, prune=True)
    assert again.documents.unchanged == 5
    assert again.documents.written == again.documents.deleted == 0
    assert counting.texts == 0
    assert target.dump() == before


def test_deleted_then_restored_document_comes_back_identical(target, tmp_path):
    docs = write_collection(tmp_path / "docs", VERSION_1)
    ingest(target.store(), [docs], prune=True)
    before = target.dump()

    write_collection(docs, {k: v for k, v in VERSION_1.items() if k != "c.md"})
    assert ingest(target.store(), [docs]).documents.deleted == 1  # reported, kept
    assert ingest(target.store(), [docs], prune=True).documents.pruned == 1
    write_collection(docs, VERSION_1)
    back = ingest(target.store(), [docs], prune=True)
    assert (back.documents.new, back.documents.unchanged) == (1, 4)
    assert target.dump() == before


# -- one run at a time ----------------------------------------------------------------------------


def test_second_run_is_refused_while_the_lock_is_held(target, tmp_path):
    docs = write_collection(tmp_path / "docs", VERSION_1)
    holder = target.store()
    with run_lock(holder):
        with pytest.raises(LockHeld) as refused:
            ingest(target.store(), [docs])
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and "locked by another kgbuild run" in message
        assert refused.value.owner is not None and refused.value.owner.pid == os.getpid()
    holder.close()
    # The refused run wrote nothing.
    if target.kind == "networkx":
        graph = tmp_path / "graph.json"
        assert not graph.exists() or networkx_dump(graph)["nodes"] == []
    else:
        assert target.dump()["nodes"] == []

    # Once the lock is free, the same run goes through.
    assert ingest(target.store(), [docs]).documents.new == 5


def test_a_waiting_run_goes_on_when_the_lock_is_released(target, tmp_path):
    docs = write_collection(tmp_path / "docs", VERSION_1)
    holder = target.store()
    released = threading.Event()

    def hold() -> None:
        with run_lock(holder):
            time.sleep(1.5)
        released.set()

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    summary = ingest(target.store(), [docs], lock_wait=30)
    thread.join()
    holder.close()
    assert released.is_set() and time.monotonic() - t0 >= 0.5
    assert summary.documents.new == 5


def test_entity_aliases_follow_the_documents_that_mention_it(target, tmp_path):
    docs = write_collection(
        tmp_path / "docs",
        {"a.txt": "Alice Smith works for ACME Inc.", "b.txt": "Bob Jones works for Acme Inc."},
    )
    ingest(target.store(), [docs])
    (docs / "a.txt").write_text("Alice Smith works for Globex Corp.", encoding="utf-8")
    ingest(target.store(), [docs])
    incremental = target.dump()
    target.wipe()
    ingest(target.store("fresh"), [docs])
    assert incremental == target.dump("fresh")


def test_build_from_python_is_incremental_and_waits_for_the_lock(tmp_path):
    """The scheduler-style call the README shows: kgbuild.build(...) -> IngestSummary."""
    docs = write_collection(tmp_path / "docs", VERSION_1)
    store = str(tmp_path / "graph.json")
    first = kgbuild.build(docs, store=store, extractor=FakeExtractor(), prune=True)
    assert isinstance(first, IngestSummary) and first.ok and first.documents.new == 5

    holder = NetworkXStore(store)
    timer = threading.Timer(1.0, lambda: lock.__exit__(None, None, None))
    lock = run_lock(holder)
    lock.__enter__()
    timer.start()
    again = kgbuild.build(docs, store=store, extractor=FakeExtractor(), prune=True, lock_wait=30)
    timer.join()
    assert again.documents.unchanged == 5 and again.documents.written == 0
