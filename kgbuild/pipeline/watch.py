"""Scheduled ingestion: keep a store in step with folders, on a timer and on file changes.

:class:`Watcher` runs :meth:`KnowledgeGraphBuilder.ingest
<kgbuild.pipeline.builder.KnowledgeGraphBuilder.ingest>` once at the start, then again
every ``interval`` seconds, and (with ``watch_files``) soon after a supported file under
the watched paths is added, changed or removed (``watchfiles``, debounced). Each run is
incremental, so a cycle with nothing new costs a walk over the files and their hashes.

* Each cycle's summary (new / changed / unchanged / deleted / failed) is logged and
  passed to ``on_cycle``.
* A document that fails is logged and, since nothing of it was written, tried again
  next cycle. A cycle that fails as a whole (the store is unreachable, another run holds
  the lock) is logged too, and the next cycle tries again.
* :meth:`Watcher.request_stop` (SIGTERM / SIGINT under :meth:`Watcher.stop_on_signals`)
  lets the current cycle finish the documents in flight, then returns; a second signal
  interrupts at once (safe too: see :mod:`kgbuild.store.base`, writes are all-or-redo).

Example::

    from kgbuild import KnowledgeGraphBuilder
    from kgbuild.pipeline.watch import Watcher

    builder = KnowledgeGraphBuilder("graph.json", entity_types=["person", "organization"])
    watcher = Watcher(builder, ["docs/"], interval=300)
    with watcher.stop_on_signals():
        watcher.run()
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from kgbuild.ingest.base import get_loader
from kgbuild.pipeline.builder import KnowledgeGraphBuilder
from kgbuild.pipeline.lock import LockHeld
from kgbuild.pipeline.summary import IngestSummary
from kgbuild.store.base import StoreError

__all__ = ["CycleReport", "Watcher"]

logger = logging.getLogger(__name__)


class CycleReport(BaseModel):
    """What one watch cycle did: the ingest summary, or why the cycle failed."""

    model_config = ConfigDict(extra="forbid")

    cycle: int
    trigger: str  # "start", "interval" or "change"
    started_at: str
    seconds: float
    summary: IngestSummary | None = None
    error: str | None = None

    def line(self) -> str:
        """One log line: the document counts, or the error."""
        head = f"cycle {self.cycle} ({self.trigger})"
        if self.summary is None:
            return f"{head} failed after {self.seconds:.2f} s: {self.error}"
        d = self.summary.documents
        text = (
            f"{head}: {d.new} new, {d.changed} changed, {d.reextracted} re-extracted, "
            f"{d.unchanged} unchanged, {d.deleted} deleted ({d.pruned} pruned), "
            f"{d.failed} failed in {self.seconds:.2f} s"
        )
        if d.failed:
            text += " (failed documents are tried again next cycle)"
        return text


class Watcher:
    """Run incremental ingests of ``paths`` on a timer and when files change.

    Args:
        builder: The :class:`~kgbuild.pipeline.builder.KnowledgeGraphBuilder` to run.
            Its store stays open between cycles if you passed it open; a store string
            is opened (and the run lock taken) per cycle.
        paths: Files and folders, as for ``ingest``.
        interval: Seconds between the starts of two cycles (at least; a cycle that takes
            longer is followed by the next at once).
        watch_files: Also start a cycle when a supported file under ``paths`` changes.
        debounce_ms: How long file events are gathered before a cycle starts.
    """

    def __init__(
        self,
        builder: KnowledgeGraphBuilder,
        paths: Sequence[str | Path],
        *,
        interval: float,
        watch_files: bool = True,
        debounce_ms: int = 1600,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be more than 0 seconds, got {interval}")
        if not paths:
            raise ValueError("give at least one file or folder to watch")
        self.builder = builder
        self.paths = [Path(p) for p in paths]
        self.interval = float(interval)
        self.watch_files = watch_files
        self.debounce_ms = debounce_ms
        self._wake = threading.Event()  # a file changed, or a stop was requested
        #: True once :meth:`request_stop` was called. A stop that was not requested comes
        #: from the builder itself: it lost the store's run lock (see kgbuild.pipeline.lock).
        self.stop_requested = False
        self._changed = threading.Event()
        self._files_stop = threading.Event()

    # -- stopping ------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.builder.stop.is_set()

    def request_stop(self) -> None:
        """End :meth:`run` after the documents in flight (safe from a signal handler)."""
        self.stop_requested = True
        self.builder.stop.set()
        self._wake.set()

    @contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT call :meth:`request_stop`; a second one interrupts at once.

        Signal handlers belong to the main thread: elsewhere this does nothing.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = [signal.SIGINT, signal.SIGTERM]
        previous = {s: signal.getsignal(s) for s in signals}

        def handle(signum: int, frame: Any) -> None:
            if self.stopping:  # the second signal: stop now
                raise KeyboardInterrupt
            logger.warning(
                "%s received: stopping after the documents in flight (again to stop now)",
                signal.Signals(signum).name,
            )
            self.request_stop()

        for s in signals:
            signal.signal(s, handle)
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    # -- the loop ------------------------------------------------------------------------

    def run(
        self,
        *,
        max_cycles: int | None = None,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> int:
        """Run cycles until stopped (or ``max_cycles``); return how many ran."""
        self._files_stop.clear()
        watcher = self._start_file_watcher() if self.watch_files else None
        cycles = 0
        trigger = "start"
        try:
            while not self.stopping:
                self._wake.clear()
                self._changed.clear()
                started = time.monotonic()
                cycles += 1
                report = self._cycle(cycles, trigger)
                if report.summary is not None:  # errors are logged by _cycle
                    logger.info("%s", report.line())
                if on_cycle is not None:
                    on_cycle(report)
                if max_cycles is not None and cycles >= max_cycles:
                    break
                due = started + self.interval
                while not self.stopping and not self._changed.is_set():
                    remaining = due - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                trigger = "change" if self._changed.is_set() else "interval"
        finally:
            self._files_stop.set()
            if watcher is not None:
                watcher.join(timeout=5)
        if self.stopping and not self.stop_requested:
            logger.error("watch stopped after %d cycle(s): the store's run lock was lost", cycles)
        else:
            logger.info("watch stopped after %d cycle(s)", cycles)
        return cycles

    def _cycle(self, number: int, trigger: str) -> CycleReport:
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        t0 = time.perf_counter()
        summary, error = None, None
        try:
            summary = self.builder.ingest(self.paths)
        except LockHeld as exc:
            error = f"{exc} (trying again next cycle)"
        except (StoreError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - a daemon keeps going; the traceback is logged
            logger.exception("cycle %d failed", number)
            error = f"{type(exc).__name__}: {exc}"
        report = CycleReport(
            cycle=number,
            trigger=trigger,
            started_at=started_at,
            seconds=time.perf_counter() - t0,
            summary=summary,
            error=error,
        )
        if error is not None:
            logger.error("%s", report.line())
        return report

    # -- file events ---------------------------------------------------------------------

    def _start_file_watcher(self) -> threading.Thread | None:
        targets = [p for p in self.paths if p.exists()]
        for p in self.paths:
            if not p.exists():
                logger.warning(
                    "%s does not exist: not watched for changes (the timer still runs)", p
                )
        if not targets:
            return None
        thread = threading.Thread(
            target=self._watch_files, args=(targets,), name="kgbuild-watch", daemon=True
        )
        thread.start()
        return thread

    def _watch_files(self, targets: list[Path]) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(
                *targets,
                watch_filter=self._relevant,
                debounce=self.debounce_ms,
                stop_event=self._files_stop,
                raise_interrupt=False,
            ):
                logger.debug("files changed: %s", sorted(path for _, path in changes))
                self._changed.set()
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 - the timer still runs
            logger.warning("watching files stopped (%s); the timer still runs", exc)

    def _relevant(self, change: Any, path: str) -> bool:
        """Files the loader reads, or folders (no suffix).

        The store's own files never count, even inside a watched folder: ``graph.json``
        has a suffix the loader skips, and its lock and temporary files start with a dot.
        """
        p = Path(path)
        if p.name.startswith(".") and not self.builder.config.load.hidden:
            return False
        return get_loader(p.suffix) is not None or not p.suffix
