"""The pipeline on a Ray cluster: extraction on an actor pool, the serial tail in this process.

Extraction is about 91 % of an ingest and independent per document; resolution across
documents and the store writes are a serial tail. This engine (``engine="ray"`` in
:class:`~kgbuild.pipeline.config.BuildConfig`, ``kgbuild ingest --engine ray``) spreads
the first over Ray workers and keeps the second here, one writer::

    driver (this process)                       actors (one extractor loaded per actor)
    run lock, schema, list the input
    (iter_files, the sequential order)
    ray.data.from_items(files) --map_batches--> load_file, content hash, state lookup by
                                                id, skip unchanged, chunk, extract
    results in input order  <-- preserve_order
    merge, resolve, assemble, write (the sequential engine's code), mark documents seen
    deleted = stored documents this run did not mark; prune

Both sides run the stages of :mod:`kgbuild.pipeline.stages`: the actors plan, chunk
and extract with a :class:`~kgbuild.pipeline.stages.PipelineStages` of their own, the
driver takes the run's other steps with the builder's. A worker learns what the store
holds through the store's picklable :meth:`~kgbuild.store.base.GraphStore.state_lookup`.

The driver consumes results in input order and groups documents into the same
batches as the sequential engine, so it resolves and writes them in the same order:
the graph is the one a sequential run builds, with the same ids. ``from_items`` has no
read tasks, so actors holding every CPU cannot starve the input (ray-project/ray#44687).

Without ``ray_address`` a local Ray instance is started for the run (CPUs capped, no
dashboard, a small object store) and stopped afterwards; a Ray session already open in
this process is used as it is. On a cluster of several machines, kgbuild (with the
model) must be installed on every node. Needs ``pip install "kgbuild[ray]"``.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgbuild.extract.base import Extraction, Extractor
from kgbuild.extract.inference.lazy import LazyExtractor
from kgbuild.ingest.loaders import LoadFailure, iter_files, load_file
from kgbuild.pipeline.config import BuildConfig
from kgbuild.pipeline.extractor_source import EXTRACTOR_ENV, import_extractor
from kgbuild.pipeline.progress import StageProgress
from kgbuild.pipeline.stages import (
    ChunkLimits,
    DocumentWork,
    IngestRun,
    PipelineError,
    PipelineStages,
)
from kgbuild.pipeline.summary import DocumentFailure, IngestSummary
from kgbuild.store.base import DocumentState, DocumentStateLookup, GraphStore
from kgbuild.types import Document

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RAY_OBJECT_STORE_BYTES", "ingest_on_ray", "ray_session"]

logger = logging.getLogger(__name__)

#: Object store of a local Ray instance: results are small (chunks and extractions).
RAY_OBJECT_STORE_BYTES = 256 * 1024**2
#: Documents marked seen per store call.
_MARK_BATCH = 1000
#: Input bytes per actor call, at most (about 4 s of the shipped model on 2 cores): enough
#: to make Ray's per-call cost (tens of ms) negligible, small enough to balance the actors.
_CALL_BYTES = 64 * 1024
#: Files per actor call, at most.
_CALL_FILES = 256
#: Environment passed to Ray workers (the extractor's offline switches and choice).
_WORKER_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", EXTRACTOR_ENV, "KGBUILD_CYPHER_ENGINE")


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError(
            "engine 'ray' needs Ray Data: pip install 'kgbuild[ray]' (ray[data] 2.60)"
        ) from None
    return ray


# -- the Ray session -------------------------------------------------------------------------


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """A Ray session for one run; yields the ``ray`` module.

    An open session (``ray.is_initialized()``) is used as it is and left open. With
    ``address`` the cluster there is joined; without, a local instance is started with
    ``num_cpus`` CPUs (at most this machine's), no dashboard and a
    :data:`RAY_OBJECT_STORE_BYTES` object store. What this starts, it shuts down.
    """
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    env = {k: os.environ[k] for k in _WORKER_ENV if k in os.environ}
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address:
        logger.info("joining the Ray cluster at %s", address)
        ray.init(address=address, runtime_env={"env_vars": env}, **kwargs)
    else:
        cpus = os.cpu_count() or 1
        cpus = min(cpus, num_cpus) if num_cpus else cpus
        # Local workers import kgbuild (and any extractor module) the way this process does.
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and Path(p).is_dir())
        logger.info("starting a local Ray instance with %d CPU(s)", cpus)
        ray.init(
            num_cpus=cpus,
            object_store_memory=RAY_OBJECT_STORE_BYTES,
            runtime_env={"env_vars": env},
            **kwargs,
        )
    try:
        yield ray
    finally:
        ray.shutdown()


# -- what a worker sends back ------------------------------------------------------------------


@dataclass
class _Event:
    """One thing a worker found in a file, in file order."""

    kind: str  # load_failure, unchanged, failure, work
    document_id: str | None = None
    load_failure: LoadFailure | None = None
    failure: DocumentFailure | None = None
    work: DocumentWork | None = None
    extractions: list[Extraction] | None = None


@dataclass
class _FileResult:
    events: list[_Event] = field(default_factory=list)
    items: int = 0  # documents and failures loaded (progress)
    seconds: dict[str, float] = field(default_factory=dict)


class _SharedLookup:
    """A store's :class:`~kgbuild.store.base.DocumentStateLookup`, put in Ray's object
    store once (a snapshot of a large store is big) and fetched by each actor when it
    first needs it."""

    def __init__(self, ref: Any) -> None:
        self.ref = ref
        self._lookup: DocumentStateLookup | None = None

    def __call__(self, ids: list[str]) -> dict[str, DocumentState]:
        if self._lookup is None:
            import ray

            self._lookup = ray.get(self.ref)
        return self._lookup(ids)


class _ExtractionWorker:
    """A Ray Data actor: loads the extractor once, then turns files into extracted work.

    It plans, chunks and extracts with the stages of :mod:`kgbuild.pipeline.stages`
    (a :class:`PipelineStages` of its own; it never opens the store).
    """

    def __init__(
        self,
        config: BuildConfig,
        lookup: _SharedLookup,
        extractor: Extractor | None,
        extractor_spec: str | None,
        threads: int,
    ) -> None:
        if extractor is None:
            extractor = import_extractor(extractor_spec or "")()
        if isinstance(extractor, LazyExtractor):
            # set when the model loads
            extractor.options = extractor.options.model_copy(update={"threads": threads})
        if "torch" in sys.modules:  # an extractor that loaded torch already
            sys.modules["torch"].set_num_threads(threads)
        self.stages = PipelineStages(config, extractor)
        self.lookup = lookup
        self.limits: ChunkLimits | None = None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import numpy as np

        results = [pickle.dumps(self.files(json.loads(g))) for g in batch["paths"]]
        out = np.empty(len(results), dtype=object)
        out[:] = results
        return {"index": batch["index"], "result": out}

    def files(self, paths: list[str]) -> list[_FileResult]:
        """Load, check, chunk and extract the documents of a group of files.

        Chunks of several files are extracted together, in the sequential engine's
        batches (:meth:`PipelineStages.batch_full`): a file of one short document alone
        would leave all but one of an extractor's side-by-side workers idle.
        """
        results: list[_FileResult] = []
        pending: list[tuple[_Event, DocumentWork]] = []
        run = self._run()
        chunks = 0
        for path in paths:
            result, work = self._prepare(path, run)
            results.append(result)
            pending.extend(work)
            chunks += sum(len(w.chunks) for _, w in work)
            if self.stages.batch_full(len(pending), chunks):
                self._extract(pending, run)
                pending, chunks = [], 0
        self._extract(pending, run)
        seconds = run.summary.seconds
        if results:  # the driver adds up every result's seconds
            results[0].seconds = {
                "load": seconds.load,
                "chunk": seconds.chunk,
                "extract": seconds.extract,
            }
        return results

    def _run(self) -> IngestRun:
        stages = self.stages
        return IngestRun(
            IngestSummary(
                store="", model_id=stages.model_id, schema_fingerprint=stages.schema_fingerprint
            )
        )

    def _prepare(
        self, path: str, run: IngestRun
    ) -> tuple[_FileResult, list[tuple[_Event, DocumentWork]]]:
        """One file loaded, checked against the store and chunked: its result (events
        without extractions yet) and the work that needs extraction."""
        stages = self.stages
        result = _FileResult()
        with run.timed("load"):
            items = list(load_file(Path(path), stages.config.load))
        result.items = len(items)
        docs = [d for d in items if isinstance(d, Document)]
        states = self.lookup([d.id for d in docs]) if docs else {}
        pending: list[tuple[_Event, DocumentWork]] = []
        for item in items:
            if isinstance(item, LoadFailure):
                result.events.append(_Event("load_failure", load_failure=item))
                continue
            status = stages.planner.run(item, states.get(item.id))
            if status == "unchanged":
                result.events.append(_Event("unchanged", document_id=item.id))
                continue
            if self.limits is None:
                self.limits = stages.chunk_limits()
            work = stages.chunk(item, status, self.limits, run)
            if isinstance(work, DocumentFailure):
                result.events.append(_Event("failure", item.id, failure=work))
                continue
            event = _Event("work", item.id, work=work)
            result.events.append(event)
            pending.append((event, work))
        return result, pending

    def _extract(self, pending: list[tuple[_Event, DocumentWork]], run: IngestRun) -> None:
        """Extractions onto the events of ``pending``, in the sequential engine's groups
        (a JSONL file can hold many documents); a document that fails becomes a failure."""
        stages = self.stages
        progress = StageProgress(False)
        for begin in range(0, len(pending), stages.config.write_batch_size):
            group = pending[begin : begin + stages.config.write_batch_size]
            batch = [w for _, w in group]
            extracted = stages.extraction.run(batch)
            found = stages.record_extraction(batch, extracted, run, progress)
            failures = {f.source: f for f in extracted.failures}
            for event, work in group:
                event.extractions = found.get(work.document.id)
                if event.extractions is None:
                    event.kind, event.work = "failure", None
                    event.failure = failures.get(work.document.source) or DocumentFailure(
                        source=work.document.source, stage="extract", reason="no result"
                    )


# -- the driver -------------------------------------------------------------------------------


def ingest_on_ray(
    stages: PipelineStages,
    store: GraphStore,
    paths: list[str | Path],
    *,
    store_name: str,
    progress: bool | None = None,
    stop: threading.Event | None = None,
) -> IngestSummary:
    """Bring ``store`` (open and locked) up to date with extraction on Ray.

    Called by :meth:`~kgbuild.pipeline.builder.KnowledgeGraphBuilder.ingest` when
    ``config.engine == "ray"``; the arguments are those of
    :func:`~kgbuild.pipeline.sequential.ingest_sequentially`. Load, chunk and extraction
    failures are reported per document as in a sequential run; a worker that dies is
    restarted by Ray and its file retried. An error that stops the run (e.g. the
    extractor answering nonsense) is raised here after Ray is shut down, and the store
    keeps what was written before it.
    """
    stop = stop or threading.Event()
    cfg = stages.config
    threads = cfg.worker_threads
    want_cpus = cfg.workers * threads if cfg.workers else None
    run = stages.start(store, paths, store_name)
    run_id = uuid.uuid4().hex
    failed_sources: list[str] = []
    files: list[str] = []
    for item in iter_files(paths, cfg.load):
        if isinstance(item, LoadFailure):
            failed_sources.append(item.source)
            run.fail(item.source, "load", item.reason)
        else:
            files.append(str(item))

    try:
        with StageProgress(progress) as bars:
            if files:
                with ray_session(cfg.ray_address, want_cpus) as ray:
                    results = _run_dataset(ray, stages, store, files, threads)
                    _consume(stages, store, run, run_id, results, failed_sources, bars, stop)
        if stop.is_set():
            logger.warning("stopped on request; not checking for deleted documents")
        else:
            with run.timed("prune"):
                gone = store.unseen(run_id)
            stages.handle_deleted(store, gone, failed_sources, run)
    finally:
        try:
            store.clear_marks()
        except Exception as exc:  # noqa: BLE001 - the next run clears them
            logger.warning("could not clear the run marks (%s); the next run does", exc)
    return stages.finish(store, run)


def _run_dataset(
    ray: Any, stages: PipelineStages, store: GraphStore, files: list[str], threads: int
) -> Iterator[_FileResult]:
    """The files' results, in input order, from an actor pool (files grouped per call)."""
    from ray.data import ActorPoolStrategy, DataContext

    cfg = stages.config
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = cfg.workers or max(1, cpus // threads)
    groups = _group_files(files, actors)
    actors = min(actors, len(groups))
    if actors * threads > cpus:
        logger.warning(
            "%d worker(s) x %d thread(s) need %d CPUs; the cluster has %d",
            actors,
            threads,
            actors * threads,
            cpus,
        )
    ctx = DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    extractor: Extractor | None = stages.extraction.extractor
    spec = None
    if type(extractor).__module__.startswith("_kgbuild_extractor_"):
        # Imported from a file named by $KGBUILD_EXTRACTOR: workers import that file.
        target, _, name = os.environ.get(EXTRACTOR_ENV, "").strip().rpartition(":")
        spec, extractor = f"{Path(target).resolve()}:{name}", None
    logger.info(
        "extracting on Ray: %d actor(s) x %d thread(s), %d file(s) in %d call(s)",
        actors,
        threads,
        len(files),
        len(groups),
    )
    ds = ray.data.from_items(
        [{"index": i, "paths": json.dumps(g)} for i, g in enumerate(groups)],
        override_num_blocks=len(groups),
    )
    ds = ds.map_batches(
        _ExtractionWorker,
        fn_constructor_kwargs={
            "config": cfg,
            "lookup": _SharedLookup(ray.put(store.state_lookup())),
            "extractor": extractor,
            "extractor_spec": spec,
            "threads": threads,
        },
        batch_size=1,
        batch_format="numpy",
        compute=ActorPoolStrategy(size=actors),
        num_cpus=threads,
    )
    expected = 0
    for row in ds.iter_rows():
        if int(row["index"]) != expected:
            raise PipelineError(
                f"internal error: Ray returned file {row['index']} where {expected} was due"
            )
        expected += 1
        yield from pickle.loads(row["result"])


def _group_files(files: list[str], actors: int) -> list[list[str]]:
    """Consecutive files, grouped into actor calls of up to :data:`_CALL_BYTES`.

    Smaller calls when the input is small, so that every actor gets several.
    """
    sizes = []
    for path in files:
        try:
            sizes.append(os.stat(path).st_size)
        except OSError:
            sizes.append(0)  # the loader reports it
    target = max(1, min(_CALL_BYTES, sum(sizes) // (actors * 4)))
    groups: list[list[str]] = []
    group: list[str] = []
    size = 0
    for path, n in zip(files, sizes, strict=True):
        group.append(path)
        size += n
        if size >= target or len(group) >= _CALL_FILES:
            groups.append(group)
            group, size = [], 0
    if group:
        groups.append(group)
    return groups


def _consume(
    stages: PipelineStages,
    store: GraphStore,
    run: IngestRun,
    run_id: str,
    results: Iterator[_FileResult],
    failed_sources: list[str],
    progress: StageProgress,
    stop: threading.Event,
) -> None:
    """The serial tail, fed in input order: the sequential engine's batches and writes."""
    batch: list[DocumentWork] = []
    extractions: dict[str, list[Extraction]] = {}
    seen: list[str] = []
    chunks = 0

    def flush() -> None:
        nonlocal batch, chunks
        if batch:
            progress.advance("extract", chunks)
            stages.resolve_and_write(batch, extractions, store, run, progress)
            batch, chunks = [], 0
            extractions.clear()
        if seen:
            store.mark_seen(seen, run_id)
            seen.clear()

    t_wait = time.perf_counter()
    for result in results:
        for stage, seconds in result.seconds.items():
            setattr(run.summary.seconds, stage, getattr(run.summary.seconds, stage) + seconds)
        progress.advance("load", result.items)
        for event in result.events:
            if event.kind == "load_failure":
                assert event.load_failure is not None
                failure = event.load_failure
                failed_sources.append(failure.source)
                if failure.reason.startswith("skipped"):
                    run.skip(failure.source, failure.reason)
                else:
                    run.fail(failure.source, "load", failure.reason)
                continue
            assert event.document_id is not None
            seen.append(event.document_id)
            if event.kind == "unchanged":
                run.summary.documents.unchanged += 1
            elif event.kind == "failure":
                assert event.failure is not None
                run.fail(event.failure.source, event.failure.stage, event.failure.reason)
            else:
                assert event.work is not None and event.extractions is not None
                batch.append(event.work)
                extractions[event.document_id] = event.extractions
                chunks += len(event.work.chunks)
                if stages.batch_full(len(batch), chunks):
                    flush()
        if len(seen) >= _MARK_BATCH and not batch:
            flush()
        if stop.is_set():
            break
    flush()
    logger.debug("driver consumed the results in %.1fs", time.perf_counter() - t_wait)
