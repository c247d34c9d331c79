"""Stopping safely: SIGKILLed runs, then a re-run, give the graph of one clean run; two runs
at once are refused; stale, held and lost locks behave as documented.

The kill tests run the real command line (``python -m kgbuild.cli.main ingest``) as a
subprocess with a slowed-down copy of the test extractor (written into the test's
temporary folder and chosen through ``KGBUILD_EXTRACTOR``, as users choose theirs). It
appends a line to a progress file after each extractor call, so a test can kill the
run after a given number of calls: after some documents are written, and (with no
delay) while it is writing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_incremental import (
    STORES,
    Target,
    ingest,
    make_target,
    networkx_dump,
    write_collection,
)

from kgbuild.pipeline.lock import (
    LOCK_LABEL,
    FileRunLock,
    LockHeld,
    LockOwner,
    Neo4jRunLock,
    run_lock,
)
from kgbuild.store import NetworkXStore

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent

# -- a collection of 40 small documents in two versions ---------------------------------------

PEOPLE = ["Alice Smith", "Bob Jones", "Carol White", "Dave Brown", "Erin Green", "Frank Black"]
ORGS = ["Acme Inc", "Globex Corp", "Initech Corp", "Umbrella Corp", "Hooli Inc"]
PLACES = ["Paris", "London", "Berlin", "Tokyo", "New York"]


def document(i: int, version: int = 1) -> str:
    p, q = PEOPLE[i % len(PEOPLE)], PEOPLE[(i * 7 + version) % len(PEOPLE)]
    o, r = ORGS[(i + version) % len(ORGS)], ORGS[(i * 3) % len(ORGS)]
    place = PLACES[(i + 2 * version) % len(PLACES)]
    # Lower-case sentence starts: the test extractor reads capitalized runs as names.
    return (
        f"report {i}: {p} works for {o} in {place}, and {q} works for {r}.\n\n"
        f"later, {q} visited {place} again, where {o} has an office."
    )


def collection(version: int) -> dict[str, str]:
    """Version 1: documents 0-29. Version 2: 0-9 unchanged, 10-19 changed, 20-29 deleted,
    30-39 new."""
    if version == 1:
        return {f"doc{i:02d}.txt": document(i) for i in range(30)}
    files = {f"doc{i:02d}.txt": document(i) for i in range(10)}
    files |= {f"doc{i:02d}.txt": document(i, version=2) for i in range(10, 20)}
    files |= {f"doc{i:02d}.txt": document(i) for i in range(30, 40)}
    return files


@pytest.fixture(params=STORES)
def target(request, tmp_path) -> Target:
    return make_target(request, tmp_path)


# -- running the command line -----------------------------------------------------------------

SLOW_EXTRACTOR = """
import os, sys, time
sys.path.insert(0, {tests!r})
from fake_extractor import FakeExtractor


class SlowExtractor(FakeExtractor):
    # Same model id as FakeExtractor: its documents count as extracted by the same model.
    def extract(self, texts, *args, **kwargs):
        out = super().extract(texts, *args, **kwargs)
        with open(os.environ["KGBUILD_TEST_PROGRESS"], "a") as f:
            f.write(f"{{len(texts)}}\\n")
        time.sleep(float(os.environ.get("KGBUILD_TEST_DELAY", "0")))
        return out
"""


@pytest.fixture
def slow_extractor(tmp_path) -> str:
    path = tmp_path / "slow_extractor.py"
    path.write_text(SLOW_EXTRACTOR.format(tests=str(TESTS)), encoding="utf-8")
    return f"{path}:SlowExtractor"


def store_args(target: Target) -> tuple[list[str], dict[str, str]]:
    """CLI arguments and environment naming the target's store (password in the env)."""
    if target.kind == "networkx":
        return ["--store", target.store_arg()], {}
    s = target.server
    args = ["--store", s.uri, "--user", s.user] + (["--database", s.database] if s.database else [])
    return args, {"NEO4J_PASSWORD": s.password}


def start(args: list[str], extractor: str, env: dict[str, str]) -> subprocess.Popen:
    full_env = {**os.environ, "KGBUILD_EXTRACTOR": extractor, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "kgbuild.cli.main", *args],
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_calls(progress: Path, calls: int, proc: subprocess.Popen, timeout: float = 90):
    """Wait until the extractor was called ``calls`` times (or the run ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.exists() and len(progress.read_text().splitlines()) >= calls:
            return
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
        pytest.fail(f"the run did not reach {calls} extractor calls in {timeout} s")


def sigkill(proc: subprocess.Popen) -> bool:
    """SIGKILL the run; True if it was still running (killed mid-way)."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    return alive and proc.returncode == -signal.SIGKILL


# -- kill safety --------------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_runs_then_a_rerun_give_the_graph_of_one_clean_run(target, tmp_path, slow_extractor):
    docs = tmp_path / "docs"
    fake = f"{TESTS / 'fake_extractor.py'}:FakeExtractor"

    # What one clean run gives: the store holds version 1, and version 2 changes, deletes
    # and adds documents.
    write_collection(docs, collection(1))
    ingest(target.store("clean"), [docs], prune=True)
    write_collection(docs, collection(2))
    ingest(target.store("clean"), [docs], prune=True)
    clean = target.dump("clean")
    target.wipe()

    # The same, with the second run killed twice before a re-run completes it.
    write_collection(docs, collection(1))
    ingest(target.store(), [docs], prune=True)
    write_collection(docs, collection(2))
    args, env = store_args(target)
    command = ["ingest", str(docs), *args, "--prune", "--batch-size", "2", "--quiet"]

    # Run A: slow. While it runs, a second run is refused, naming it; then A is killed.
    progress = tmp_path / "progress-a"
    run_a = start(
        command,
        slow_extractor,
        {**env, "KGBUILD_TEST_PROGRESS": str(progress), "KGBUILD_TEST_DELAY": "2.0"},
    )
    wait_for_calls(progress, 2, run_a)
    refused = subprocess.run(
        [sys.executable, "-m", "kgbuild.cli.main", *command],
        cwd=REPO,
        env={**os.environ, "KGBUILD_EXTRACTOR": fake, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1, refused.stderr
    assert "locked by another kgbuild run" in refused.stderr
    assert f"pid {run_a.pid} on {socket.gethostname()}" in refused.stderr
    assert sigkill(run_a), "run A finished before it could be killed: make it slower"
    if target.kind == "networkx":  # the file is still the complete version-1 graph
        assert (
            len(
                [
                    n
                    for n in networkx_dump(tmp_path / "graph.json")["nodes"]
                    if "Document" in n["__labels__"]
                ]
            )
            == 30
        )

    # Run B: no delay, killed a moment after its 4th extractor call, while it writes.
    progress = tmp_path / "progress-b"
    run_b = start(command, slow_extractor, {**env, "KGBUILD_TEST_PROGRESS": str(progress)})
    wait_for_calls(progress, 4, run_b)
    time.sleep(0.1)
    sigkill(run_b)  # may have finished already: then the re-run has nothing left to do

    # Run C: to the end. It takes over the killed runs' lock (same host, process gone).
    rerun = start(command, fake, env)
    out, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    assert target.dump() == clean


def test_graph_file_is_never_half_written(tmp_path, slow_extractor):
    """SIGKILL during the final save leaves the old or the new file, never a mix."""
    docs = write_collection(tmp_path / "docs", collection(1))
    store = tmp_path / "graph.json"
    ingest(NetworkXStore(store), [docs])
    before = store.read_bytes()
    write_collection(docs, collection(2))
    progress = tmp_path / "progress"
    run = start(
        ["ingest", str(docs), "--store", str(store), "--prune", "--quiet"],
        slow_extractor,
        {"KGBUILD_TEST_PROGRESS": str(progress)},
    )
    wait_for_calls(progress, 1, run)
    time.sleep(0.05 + (os.getpid() % 7) / 100)  # somewhere near the end of the run
    sigkill(run)
    data = json.loads(store.read_text(encoding="utf-8"))  # parses: complete
    assert (
        store.read_bytes() == before
        or len([n for n in data["nodes"] if "Document" in n["__labels__"]]) == 30
    )


# -- the lock itself ------------------------------------------------------------------------------


def test_file_lock_names_its_holder_and_dies_with_it(tmp_path):
    graph = tmp_path / "graph.json"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from kgbuild.pipeline.lock import FileRunLock\n"
            f"lock = FileRunLock({str(graph)!r}); lock.acquire()\n"
            "print('held', flush=True); time.sleep(60)\n",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld) as refused:
        FileRunLock(graph).acquire()
    assert f"pid {holder.pid} on {socket.gethostname()}" in str(refused.value)
    assert str(graph) in str(refused.value)

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = FileRunLock(graph)
    lock.acquire()  # the OS released the killed holder's lock
    assert LockOwner.model_validate_json(lock.path.read_text()).pid == os.getpid()
    lock.release()
    assert lock.path.read_text() == ""


def test_store_opened_before_the_lock_is_reloaded_if_another_run_saved(tmp_path):
    (tmp_path / "a.txt").write_text("Alice Smith works for Acme Inc in Paris.", "utf-8")
    (tmp_path / "b.txt").write_text("Bob Jones works for Globex Corp in Berlin.", "utf-8")
    path = tmp_path / "graph.json"
    early = NetworkXStore(path)
    early.open()  # loaded (empty) before the other run
    ingest(NetworkXStore(path), [tmp_path / "a.txt"])
    # Without reloading under the lock, this run would save over a.txt's document.
    ingest(early, [tmp_path / "b.txt"])
    assert NetworkXStore(path).counts()["documents"] == 2


# -- Neo4j: stale, held, renewed and lost locks --------------------------------------------------


@pytest.fixture
def bolt_store(empty_bolt_graph):
    from kgbuild.store.neo4j_store import Neo4jStore

    s = empty_bolt_graph
    stores = []

    def make():
        store = Neo4jStore(s.uri, s.user, s.password, s.database)
        store.open()
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def plant_lock(store, **owner) -> None:
    """A lock node as another run would have left it; ``expires_in`` in seconds."""
    expires_in = owner.pop("expires_in")
    Neo4jRunLock(store)._setup()
    store.driver.execute_query(
        f"MERGE (l:`{LOCK_LABEL}` {{id: 'ingest'}}) SET l += $owner, "
        "l.expires_at = timestamp() + $ms",
        owner={"started_at": "2025-01-01T00:00:00+00:00", "token": "other", **owner},
        ms=int(expires_in * 1000),
        database_=store.database,
    )


def lock_nodes(store) -> list[dict]:
    records, _, _ = store.driver.execute_query(
        f"MATCH (l:`{LOCK_LABEL}`) RETURN properties(l) AS p", database_=store.database
    )
    return [r["p"] for r in records]


@pytest.mark.neo4j
def test_neo4j_lock_held_by_a_live_run_is_refused_with_its_details(bolt_store):
    store = bolt_store()
    plant_lock(store, host="ingest-host-2", pid=4242, expires_in=60)
    with pytest.raises(LockHeld) as refused:
        Neo4jRunLock(store).acquire()
    message = str(refused.value)
    assert "pid 4242 on ingest-host-2" in message and "expires in" in message
    assert store.counts()["documents"] == 0  # the lock node is not part of the graph


@pytest.mark.neo4j
def test_neo4j_lock_of_a_dead_or_expired_run_is_taken_over(bolt_store):
    store = bolt_store()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)
    plant_lock(store, host=socket.gethostname(), pid=dead_pid, expires_in=600)
    lock = Neo4jRunLock(store)
    lock.acquire()  # same host, process gone: no need to wait for expiry
    assert [n["pid"] for n in lock_nodes(store)] == [os.getpid()]
    lock.release()
    assert lock_nodes(store) == []

    plant_lock(store, host="ingest-host-2", pid=4242, expires_in=-1)
    with run_lock(store):
        assert [n["token"] for n in lock_nodes(store)] != ["other"]
    assert lock_nodes(store) == []


@pytest.mark.neo4j
def test_neo4j_waiting_run_gets_the_lock_when_it_expires(bolt_store):
    store = bolt_store()
    plant_lock(store, host="ingest-host-2", pid=4242, expires_in=2)
    t0 = time.monotonic()
    lock = Neo4jRunLock(store)
    lock.acquire(wait=30)
    assert 1.0 < time.monotonic() - t0 < 15
    lock.release()


@pytest.mark.neo4j
def test_neo4j_heartbeat_keeps_the_lock_and_notices_losing_it(bolt_store):
    lost = []
    holder = Neo4jRunLock(bolt_store(), ttl=1.5, on_lost=lambda: lost.append(True))
    holder.acquire()
    time.sleep(3.5)  # more than two TTLs: only the heartbeat keeps it
    with pytest.raises(LockHeld):
        Neo4jRunLock(bolt_store()).acquire()
    assert not lost

    # Another run takes it over (as after an expiry): the heartbeat finds out.
    other = bolt_store()
    other.driver.execute_query(
        f"MATCH (l:`{LOCK_LABEL}`) SET l.token = 'someone-else'", database_=other.database
    )
    deadline = time.monotonic() + 5
    while not lost and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lost and holder.lost.is_set()
    holder.release()  # releases nothing: the node is the other run's now
    assert [n["token"] for n in lock_nodes(other)] == ["someone-else"]


# -- a run killed while pruning (Neo4j: removal is several transactions) ----------------------
# The NetworkX store changes its file in one atomic save, so a kill leaves the old file.

REMOVAL_STEPS = ["mark documents", "relation evidence", "mentions", "chunks", "documents"]


@pytest.mark.parametrize("target", [pytest.param("neo4j", marks=pytest.mark.neo4j)], indirect=True)
@pytest.mark.parametrize("done", range(1, len(REMOVAL_STEPS)), ids=REMOVAL_STEPS[:-1])
@pytest.mark.parametrize("file_back", [False, True], ids=["deleted", "restored"])
def test_run_killed_while_removing_a_document_leaves_nothing_behind(
    target, tmp_path, done, file_back
):
    docs = write_collection(tmp_path / "docs", collection(1))
    ingest(target.store(), [docs], prune=True)
    (docs / "doc05.txt").unlink()

    # The state a SIGKILL leaves after the first `done` transactions of pruning doc05.txt.
    store = target.store()
    store.open()
    doc_id = next(i for i, s in store.document_states().items() if s.source.endswith("doc05.txt"))
    steps = store._removal_steps([doc_id])
    assert [name for name, _ in steps] == REMOVAL_STEPS
    for _, step in steps[:done]:
        step()
    store.close()

    if file_back:  # the user restores the file before the next run: it is written again
        (docs / "doc05.txt").write_text(collection(1)["doc05.txt"], encoding="utf-8")
    summary = ingest(target.store(), [docs], prune=True)
    assert (summary.documents.changed, summary.documents.deleted) == (
        (1, 0) if file_back else (0, 1)
    )
    after = target.dump()
    target.wipe()
    ingest(target.store("fresh"), [docs], prune=True)
    assert after == target.dump("fresh")
    assert ingest(target.store(), [docs]).documents.unchanged == (30 if file_back else 29)


@pytest.mark.neo4j
def test_neo4j_lock_does_not_retry_a_real_client_error(bolt_store):
    from neo4j.exceptions import ClientError

    lock = Neo4jRunLock(bolt_store())
    calls = []

    def broken(tx):
        calls.append(1)
        tx.run("RETURN $missing_parameter AS x").consume()  # the server refuses it

    with pytest.raises(ClientError):
        lock._run(broken)
    assert len(calls) == 1  # a client error other than a lost race is not retried
