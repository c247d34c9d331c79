"""``kgbuild watch`` and :class:`~kgbuild.pipeline.watch.Watcher`: cycles on a timer and on
file changes, failures retried next cycle, a clean stop on SIGTERM / SIGINT.

The command-line tests run ``python -m kgbuild.cli.main watch --json`` as a subprocess
and read its one-JSON-object-per-cycle output line by line.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_extractor import FakeExtractor
from test_incremental import (
    STORES,
    Target,
    ingest,
    make_target,
    networkx_dump,
    write_collection,
)
from test_kill_and_lock import SLOW_EXTRACTOR, collection, store_args, wait_for_calls

from kgbuild.pipeline import BuildConfig, KnowledgeGraphBuilder
from kgbuild.pipeline.lock import run_lock
from kgbuild.pipeline.watch import CycleReport, Watcher
from kgbuild.store import NetworkXStore

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
FAKE = f"{TESTS / 'fake_extractor.py'}:FakeExtractor"


@pytest.fixture(params=STORES)
def target(request, tmp_path) -> Target:
    return make_target(request, tmp_path)


class WatchProcess:
    """``kgbuild watch ... --json`` in a subprocess; its cycles arrive on a queue."""

    def __init__(self, args: list[str], env: dict[str, str], extractor: str = FAKE) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kgbuild.cli.main", "watch", *args, "--json"],
            cwd=REPO,
            env={**os.environ, "KGBUILD_EXTRACTOR": extractor, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.cycles: queue.Queue[dict] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.cycles.put(json.loads(line))

    def next_cycle(self, timeout: float) -> dict:
        try:
            return self.cycles.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"no watch cycle within {timeout} s; stderr: {''.join(self.stderr)}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"watch did not stop within {timeout} s after {signum!r}")


# -- the command line -------------------------------------------------------------------------


@pytest.mark.slow
def test_watch_picks_up_a_new_file_within_one_interval_and_stops_on_sigterm(target, tmp_path):
    docs = write_collection(tmp_path / "docs", {"a.txt": "Alice Smith works for Acme Inc."})
    interval = 3.0
    args, env = store_args(target)
    watch = WatchProcess(
        [str(docs), *args, "--interval", str(interval), "--no-watch-files", "--prune"], env
    )
    first = watch.next_cycle(timeout=120)  # the start-up (imports) is slow on a busy machine
    assert first["trigger"] == "start" and first["summary"]["documents"]["new"] == 1

    (docs / "b.txt").write_text("Bob Jones works for Globex Corp in Berlin.", encoding="utf-8")
    added = time.monotonic()
    while True:
        cycle = watch.next_cycle(timeout=interval + 30)
        if cycle["summary"]["documents"]["new"]:
            break
    # Cycles start every `interval` seconds: the file is in the next one (plus its run time).
    assert time.monotonic() - added <= interval + cycle["seconds"] + 2.0
    assert cycle["trigger"] == "interval"
    assert (cycle["summary"]["documents"]["new"], cycle["summary"]["documents"]["unchanged"]) == (
        1,
        1,
    )

    assert watch.stop(signal.SIGTERM) == 0
    assert "SIGTERM received" in "".join(watch.stderr)
    assert target.dump()["nodes"]  # the store holds the graph


@pytest.mark.slow
def test_a_file_change_starts_a_cycle_before_the_interval(tmp_path):
    docs = write_collection(tmp_path / "docs", {"a.txt": "Alice Smith works for Acme Inc."})
    store = docs / "graph.json"  # inside the watched folder: its own saves must not count
    watch = WatchProcess([str(docs), "--store", str(store), "--interval", "600"], {})
    assert watch.next_cycle(timeout=120)["summary"]["documents"]["new"] == 1

    (docs / "a.txt").write_text("Alice Smith works for Globex Corp.", encoding="utf-8")
    cycle = watch.next_cycle(timeout=30)
    assert cycle["trigger"] == "change" and cycle["summary"]["documents"]["changed"] == 1
    # Saving graph.json (and its lock file) started no cycle of its own.
    with pytest.raises(queue.Empty):
        watch.cycles.get(timeout=4)
    assert watch.stop(signal.SIGINT) == 0


@pytest.mark.slow
def test_sigterm_during_a_cycle_finishes_the_documents_in_flight(tmp_path):
    docs = write_collection(tmp_path / "docs", collection(1))
    extractor = tmp_path / "slow_extractor.py"
    extractor.write_text(SLOW_EXTRACTOR.format(tests=str(TESTS)), encoding="utf-8")
    progress = tmp_path / "progress"
    store = tmp_path / "graph.json"
    watch = WatchProcess(
        [str(docs), "--store", str(store), "--interval", "600", "--batch-size", "2", "--prune"],
        {"KGBUILD_TEST_PROGRESS": str(progress), "KGBUILD_TEST_DELAY": "0.3"},
        extractor=f"{extractor}:SlowExtractor",
    )
    wait_for_calls(progress, 2, watch.proc, timeout=120)
    assert watch.stop(signal.SIGTERM) == 0
    cycle = watch.next_cycle(timeout=5)
    written = cycle["summary"]["documents"]["new"]
    assert 0 < written < 30  # stopped early, after whole documents
    assert cycle["summary"]["documents"]["deleted"] == 0  # not every input was seen: no prune
    saved = networkx_dump(store)
    assert len([n for n in saved["nodes"] if "Document" in n["__labels__"]]) == written

    # The next run completes the graph, as if nothing had happened.
    assert ingest(NetworkXStore(store), [docs], prune=True).documents.new == 30 - written
    ingest(NetworkXStore(tmp_path / "clean.json"), [docs], prune=True)
    assert networkx_dump(store) == networkx_dump(tmp_path / "clean.json")


# -- the Watcher ----------------------------------------------------------------------------------


class FlakyExtractor(FakeExtractor):
    """Fails on texts containing 'Flaky' the first two times it sees them: in the batch,
    and when the pipeline retries that document alone (so the document fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, int] = {}

    def extract(self, texts, *args, **kwargs):
        for text in texts:
            if "Flaky" in text and self.failures.get(text, 0) < 2:
                self.failures[text] = self.failures.get(text, 0) + 1
                raise RuntimeError("extractor hiccup")
        return super().extract(texts, *args, **kwargs)


def watcher_for(store, docs: Path, extractor=None, **config) -> Watcher:
    builder = KnowledgeGraphBuilder(
        store, extractor=extractor or FakeExtractor(), config=BuildConfig(**config), progress=False
    )
    return Watcher(builder, [docs], interval=0.05, watch_files=False)


def test_a_failed_document_is_logged_and_retried_next_cycle(tmp_path, caplog):
    docs = write_collection(
        tmp_path / "docs",
        {"a.txt": "Alice Smith works for Acme Inc.", "b.txt": "Flaky Fred works for Acme Inc."},
    )
    reports: list[CycleReport] = []
    watcher = watcher_for(str(tmp_path / "graph.json"), docs, FlakyExtractor())
    with caplog.at_level("INFO", logger="kgbuild"):
        assert watcher.run(max_cycles=3, on_cycle=reports.append) == 3

    counts = [r.summary.documents for r in reports]
    assert (counts[0].new, counts[0].failed) == (1, 1)
    assert "b.txt" in reports[0].summary.failures[0].source
    assert (counts[1].new, counts[1].unchanged, counts[1].failed) == (1, 1, 0)
    assert (counts[2].unchanged, counts[2].written) == (2, 0)
    assert "tried again next cycle" in caplog.text
    assert NetworkXStore(tmp_path / "graph.json").counts()["documents"] == 2


def test_a_cycle_that_cannot_lock_the_store_is_logged_and_the_next_one_runs(tmp_path, caplog):
    docs = write_collection(tmp_path / "docs", {"a.txt": "Alice Smith works for Acme Inc."})
    path = tmp_path / "graph.json"
    other_run = run_lock(NetworkXStore(path))
    other_run.__enter__()
    reports: list[CycleReport] = []

    def on_cycle(report: CycleReport) -> None:
        reports.append(report)
        if len(reports) == 1:
            other_run.__exit__(None, None, None)  # the other run ends

    with caplog.at_level("ERROR", logger="kgbuild"):
        watcher_for(str(path), docs).run(max_cycles=2, on_cycle=on_cycle)
    assert reports[0].summary is None and "locked by another kgbuild run" in reports[0].error
    assert "trying again next cycle" in caplog.text
    assert reports[1].summary is not None and reports[1].summary.documents.new == 1


def test_request_stop_ends_the_loop_without_another_cycle(tmp_path):
    docs = write_collection(tmp_path / "docs", {"a.txt": "Alice Smith works for Acme Inc."})
    watcher = watcher_for(str(tmp_path / "graph.json"), docs)
    watcher.interval = 60
    timer = threading.Timer(0.5, watcher.request_stop)
    timer.start()
    t0 = time.monotonic()
    assert watcher.run() == 1  # the first cycle, then the wait, cut short
    assert time.monotonic() - t0 < 10


def test_only_loadable_files_and_folders_trigger_cycles(tmp_path):
    watcher = watcher_for(str(tmp_path / "graph.json"), tmp_path)
    relevant = {
        name: watcher._relevant(None, str(tmp_path / name))
        for name in [
            "a.txt",
            "notes.MD",
            "dump.jsonl",
            "subfolder",
            "graph.json",
            ".graph.json.lock",
            ".graph.json.x1y2.tmp",
            "photo.png",
            ".hidden.txt",
        ]
    }
    assert {name for name, yes in relevant.items() if yes} == {
        "a.txt",
        "notes.MD",
        "dump.jsonl",
        "subfolder",
    }


def test_bad_settings_are_refused(tmp_path):
    builder = KnowledgeGraphBuilder(str(tmp_path / "g.json"), extractor=FakeExtractor())
    with pytest.raises(ValueError, match="interval"):
        Watcher(builder, [tmp_path], interval=0)
    with pytest.raises(ValueError, match="at least one"):
        Watcher(builder, [], interval=5)


def test_losing_the_lock_ends_the_watch_as_a_failure(tmp_path, caplog):
    docs = write_collection(tmp_path / "docs", {"a.txt": "Alice Smith works for Acme Inc."})
    watcher = watcher_for(str(tmp_path / "graph.json"), docs)
    # What Neo4jRunLock's heartbeat does when another run takes the lock over: builder.stop.
    with caplog.at_level("INFO", logger="kgbuild"):
        cycles = watcher.run(on_cycle=lambda report: watcher.builder.stop.set())
    assert cycles == 1 and watcher.stopping and not watcher.stop_requested
    assert "run lock was lost" in caplog.text
