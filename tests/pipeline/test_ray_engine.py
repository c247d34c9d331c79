"""``engine="ray"``: extraction on a real local Ray instance gives the sequential graph.

All tests of this module share one Ray session (the module fixture ``ray_local``): the
engine uses a session that is already open instead of starting its own, so the start-up
cost (seconds) is paid once. Each run still starts its own actor pool.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from test_incremental import (
    STORES,
    VERSION_1,
    VERSION_2,
    Target,
    ingest,
    make_target,
    networkx_dump,
    write_collection,
)

import kgbuild
from kgbuild.pipeline.lock import LockHeld
from kgbuild.store import NetworkXStore

pytest.importorskip("ray.data", reason="needs kgbuild[ray]")

pytestmark = pytest.mark.ray

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
DATA = TESTS / "data"


@pytest.fixture(scope="module", autouse=True)
def ray_local():
    """One local Ray instance (2 CPUs, no dashboard, small object store) for the module."""
    from kgbuild.pipeline.ray_engine import ray_session

    with ray_session(num_cpus=2) as ray:
        yield ray


@pytest.fixture(params=STORES)
def target(request, tmp_path) -> Target:
    return make_target(request, tmp_path)


RAY = {"engine": "ray", "workers": 2}


def test_ray_graph_equals_sequential_byte_for_byte(tmp_path):
    """Several chunks per document, HTML, JSONL, CRLF, CJK: the same file, byte for byte."""
    paths = [DATA / "unicode", DATA / "pipeline", REPO / "examples" / "docs"]
    seq = ingest(NetworkXStore(tmp_path / "seq.json"), paths, FakeExtractor(window=40))
    par = ingest(NetworkXStore(tmp_path / "ray.json"), paths, FakeExtractor(window=40), **RAY)
    assert par.documents.new == seq.documents.new > 10
    assert (par.chunks, par.mentions, par.tokens) == (seq.chunks, seq.mentions, seq.tokens)
    assert par.failures == seq.failures
    assert par.graph == seq.graph
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "seq.json").read_bytes()


def test_ray_with_embeddings_gives_every_chunk_and_entity_the_sequential_vector(
    tmp_path, monkeypatch
):
    """Embeddings with the Ray engine: the driver embeds what the actors extracted, the
    same vectors as a sequential run."""
    monkeypatch.delenv("KGBUILD_EMBEDDINGS", raising=False)
    docs = write_collection(tmp_path / "docs", VERSION_1)
    on = {"embeddings": True}
    seq = ingest(NetworkXStore(tmp_path / "seq.json"), [docs], FakeExtractor(window=40), **on)
    par = ingest(
        NetworkXStore(tmp_path / "ray.json"), [docs], FakeExtractor(window=40), **on, **RAY
    )
    assert par.ok and par.seconds.embed > 0.0 and par.graph == seq.graph
    store = NetworkXStore(tmp_path / "ray.json")
    for label in ("Chunk", "Entity"):
        rows = store.query(f"MATCH (n:{label}) RETURN n.id AS id, n.embedding AS v")
        assert rows and all(r["v"] is not None and len(r["v"]) == 384 for r in rows), label
    store.close()
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "seq.json").read_bytes()


class CountingExtractor(FakeExtractor):
    """Records how many chunk texts each ``extract`` call gets."""

    def __init__(self) -> None:
        super().__init__(window=40)
        self.calls: list[int] = []

    def extract(self, texts, *args, **kwargs):
        self.calls.append(len(texts))
        return super().extract(texts, *args, **kwargs)


def test_a_worker_extracts_the_chunks_of_several_small_files_together(tmp_path, ray_local):
    """One short document per file: the files of one actor call share extractor calls (an
    extractor alone with one window leaves its other workers idle), and each file still
    gets its own result, a broken file its own failure."""
    from kgbuild.pipeline.builder import BuildConfig
    from kgbuild.pipeline.ray_engine import _ExtractionWorker, _SharedLookup
    from kgbuild.store import StateSnapshot

    names = ["Alice", "Bruno", "Carla", "Dmitri", "Emil", "Frida"]
    paths = []
    for i, name in enumerate(names):
        paths.append(tmp_path / f"doc{i}.txt")
        paths[-1].write_text(f"{name} Smith works for Acme Corp in Paris.", encoding="utf-8")
    paths.insert(3, tmp_path / "broken.txt")
    paths[3].write_bytes(b"\x00\x01\x02 not text \xff\xfe")
    extractor = CountingExtractor()
    worker = _ExtractionWorker(
        BuildConfig(), _SharedLookup(ray_local.put(StateSnapshot({}))), extractor, None, 1
    )
    results = worker.files([str(p) for p in paths])

    assert extractor.calls == [6]  # six files of one chunk each: one call
    kinds = [[e.kind for e in r.events] for r in results]
    assert kinds == [["work"]] * 3 + [["load_failure"]] + [["work"]] * 3
    assert results[3].events[0].load_failure.source.endswith("broken.txt")
    firsts = [r.events[0].extractions[0].entities[0].text for i, r in enumerate(results) if i != 3]
    assert firsts == [f"{name} Smith" for name in names]


@pytest.mark.neo4j
def test_ray_graph_equals_sequential_on_the_bolt_server(tmp_path, empty_bolt_graph):
    target = Target("neo4j", tmp_path, empty_bolt_graph)
    paths = [DATA / "unicode", DATA / "pipeline"]
    ingest(target.store(), paths, FakeExtractor(window=40))
    sequential = target.dump()
    target.wipe()
    summary = ingest(target.store(), paths, FakeExtractor(window=40), **RAY)
    assert summary.documents.new == 6
    dump = target.dump()
    assert dump == sequential
    # The run marks are gone: no Document keeps kgbuild_seen_run.
    assert "kgbuild_seen_run" not in str(dump["nodes"])


def test_ray_incremental_skip_change_and_prune(target, tmp_path):
    """Unchanged: nothing extracted. One changed file: only it. Deletions: reported,
    then pruned; the graph equals a fresh sequential ingest of the final files."""
    docs = write_collection(tmp_path / "docs", VERSION_1)
    first = ingest(target.store(), [docs], **RAY)
    assert first.documents.new == 5

    again = ingest(target.store(), [docs], **RAY)
    assert again.documents.unchanged == 5
    assert (again.documents.new, again.documents.changed, again.chunks, again.tokens) == (
        0,
        0,
        0,
        0,
    )

    changed = {**VERSION_1, "b.txt": VERSION_2["b.txt"]}
    write_collection(docs, changed)
    one = ingest(target.store(), [docs], **RAY)
    assert (one.documents.changed, one.documents.unchanged, one.documents.new) == (1, 4, 0)
    assert one.tokens == len(VERSION_2["b.txt"].split())  # only b.txt was read by the model

    write_collection(docs, VERSION_2)
    kept = ingest(target.store(), [docs], **RAY)
    assert kept.documents.deleted == 2 and kept.documents.pruned == 0
    assert any(s.endswith("c.md") for s in kept.deleted_sources)
    pruned = ingest(target.store(), [docs], prune=True, **RAY)
    assert pruned.documents.pruned == 2
    incremental = target.dump()

    target.wipe()
    ingest(target.store("fresh"), [docs])
    assert target.dump("fresh") == incremental


def test_ray_from_the_python_api(tmp_path):
    """``kgbuild.build(..., engine="ray")`` takes the engine settings as config fields."""
    docs = write_collection(tmp_path / "docs", VERSION_1)
    summary = kgbuild.build(
        docs,
        store=tmp_path / "graph.json",
        extractor=FakeExtractor(),
        progress=False,
        engine="ray",
        workers=1,
        worker_threads=2,
    )
    assert summary.documents.new == 5
    ingest(NetworkXStore(tmp_path / "seq.json"), [docs])
    assert networkx_dump(tmp_path / "graph.json") == networkx_dump(tmp_path / "seq.json")


def test_ray_from_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kgbuild.cli.main import app

    docs = write_collection(tmp_path / "docs", VERSION_1)
    monkeypatch.setenv("KGBUILD_EXTRACTOR", f"{TESTS / 'fake_extractor.py'}:FakeExtractor")
    store = tmp_path / "graph.json"
    result = CliRunner().invoke(
        app, ["ingest", str(docs), "--store", str(store), "--engine", "ray", "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "5 new" in result.output
    ingest(NetworkXStore(tmp_path / "seq.json"), [docs])
    assert networkx_dump(store) == networkx_dump(tmp_path / "seq.json")


def test_ray_engine_names_a_bad_engine():
    with pytest.raises(ValueError, match="engine"):
        kgbuild.BuildConfig(engine="spark")


# -- a worker killed mid-run; a second run refused ----------------------------------------------

SLOW_EXTRACTOR = """
import os, sys, time
sys.path.insert(0, {tests!r})
from fake_extractor import FakeExtractor


class SlowExtractor(FakeExtractor):
    # Records the process of each call, so the test can SIGKILL a Ray worker.
    def extract(self, texts, *args, **kwargs):
        with open({progress!r}, "a") as f:
            f.write(f"{{os.getpid()}}\\n")
        time.sleep({delay})
        return super().extract(texts, *args, **kwargs)
"""


def many_docs(folder: Path, n: int = 24) -> Path:
    people, orgs = ["Alice Smith", "Bob Jones", "Carol White"], ["Acme Inc", "Globex Corp"]
    files = {
        f"doc{i:02d}.txt": f"report {i}: {people[i % 3]} works for {orgs[i % 2]} in Paris."
        for i in range(n)
    }
    return write_collection(folder, files)


def test_ray_worker_killed_mid_run_then_rerun_equals_a_clean_run(tmp_path, monkeypatch, ray_local):
    docs = many_docs(tmp_path / "docs")
    progress = tmp_path / "calls.txt"
    module = tmp_path / "slow_extractor.py"
    module.write_text(
        SLOW_EXTRACTOR.format(tests=str(TESTS), progress=str(progress), delay=0.4),
        encoding="utf-8",
    )
    monkeypatch.setenv("KGBUILD_EXTRACTOR", f"{module}:SlowExtractor")
    store = NetworkXStore(tmp_path / "graph.json")
    builder = kgbuild.KnowledgeGraphBuilder(
        store, config=kgbuild.BuildConfig(**RAY), progress=False
    )
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["summary"] = builder.ingest([docs])
        except Exception as exc:  # noqa: BLE001 - a clean failure is allowed
            outcome["error"] = exc
        finally:
            store.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pids = progress.read_text().split() if progress.exists() else []
        if len(pids) >= 3:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the Ray workers did not start extracting")
    victim = int(pids[-1])
    assert victim != os.getpid()

    # While it runs, a second run on the same store is refused by the lock.
    with pytest.raises(LockHeld):
        ingest(NetworkXStore(tmp_path / "graph.json"), [docs], **RAY)

    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=240)
    assert not thread.is_alive()
    # Ray Data restarts a dead actor and retries its call (max_restarts and
    # max_task_retries are unlimited for actor pools): the run recovers, nothing fails.
    assert "error" not in outcome, outcome.get("error")
    assert outcome["summary"].documents.new == 24
    assert outcome["summary"].documents.failed == 0
    monkeypatch.setenv("KGBUILD_EXTRACTOR", f"{TESTS / 'fake_extractor.py'}:FakeExtractor")
    rerun = ingest(NetworkXStore(tmp_path / "graph.json"), [docs], **RAY)
    assert (rerun.documents.unchanged, rerun.documents.failed) == (24, 0)
    ingest(NetworkXStore(tmp_path / "clean.json"), [docs])
    assert networkx_dump(tmp_path / "graph.json") == networkx_dump(tmp_path / "clean.json")
    assert str(victim) in progress.read_text()


# -- the shipped model --------------------------------------------------------------------------


@pytest.mark.slow
def test_ray_with_the_shipped_model_equals_sequential(tmp_path):
    """A text file and a JSONL file of five short records, the real extractor loaded in
    each actor: the same file, byte for byte."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ["ada_lovelace.txt", "business_news.jsonl"]:
        (docs / name).write_bytes((REPO / "examples" / "docs" / name).read_bytes())
    seq = kgbuild.build(docs, store=tmp_path / "seq.json", progress=False)
    par = kgbuild.build(docs, store=tmp_path / "ray.json", progress=False, **RAY)
    assert par.documents.new == seq.documents.new == 6
    assert seq.mentions > 0
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "seq.json").read_bytes()
