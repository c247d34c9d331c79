"""The ingestion pipeline: documents in, a provenance-rich knowledge graph out.

:class:`KnowledgeGraphBuilder` wires the stages together and streams documents
through them, so memory holds one batch at a time, whatever the collection size::

    load (kgbuild.ingest.loaders)     files -> Document, or LoadFailure
      -> skip unchanged               compare with store.document_states()
      -> chunk (kgbuild.ingest.chunker)   token-budgeted by the extractor
      -> extract (kgbuild.pipeline.extraction)  batches of chunks from several documents
      -> resolve (kgbuild.resolve)    mentions -> entities, per document
      -> assemble relations           mention pairs -> entity pairs, with evidence
      -> write (kgbuild.store)        DocumentGraph batches; one bad document never stops the rest

With ``BuildConfig(engine="ray")`` the stages up to extraction run on a Ray cluster
(:mod:`kgbuild.pipeline.ray_engine`) and this module's own resolve, assemble and write
steps run in the calling process, in the same order: the same graph.

The ingestion state lives in the store (each Document node records its content
hash, model id and schema fingerprint), so any machine can continue where
another stopped, and an unchanged document is skipped without running the
extractor.

Example::

    from kgbuild import KnowledgeGraphBuilder

    builder = KnowledgeGraphBuilder("graph.json", entity_types=["person", "organization"],
                                    relation_types=["works for"])
    summary = builder.ingest(["docs/"])
    print(summary.render())
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.extract.base import Extraction, Extractor
from kgbuild.extract.options import ExtractorOptions
from kgbuild.ids import mention_id, relation_id
from kgbuild.ingest.chunker import ChunkerConfig, chunk_document
from kgbuild.ingest.loaders import LoadFailure, LoadOptions, iter_documents
from kgbuild.pipeline.extraction import (
    DocumentExtraction,
    ExtractionError,
    merge_chunk_extractions,
    run_extractor,
)
from kgbuild.pipeline.progress import StageProgress
from kgbuild.pipeline.summary import DocumentFailure, IngestSummary
from kgbuild.resolve.config import ResolverConfig
from kgbuild.resolve.overrides import Overrides
from kgbuild.schema import InvalidTypeName, Schema, entity_label, relation_label
from kgbuild.store.base import DocumentState, GraphStore
from kgbuild.types import (
    Chunk,
    Document,
    DocumentGraph,
    Mention,
    Relation,
    RelationEvidence,
)

__all__ = [
    "BuildConfig",
    "KnowledgeGraphBuilder",
    "PipelineError",
    "chunk_budget",
    "describe_store",
]

logger = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """An internal inconsistency (a bug, not bad input): the run stops."""


class BuildConfig(BaseModel):
    """Everything that decides what :class:`KnowledgeGraphBuilder` extracts and how.

    Example::

        BuildConfig(schema=Schema(entity_types=["person", "company"],
                                  relation_types=["works for"]),
                    chunker=ChunkerConfig(overlap_tokens=16), prune=True)
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Schema = Field(
        default_factory=Schema,
        alias="schema",
        description="Entity and relation types (default: kgbuild.schema's defaults).",
    )
    chunker: ChunkerConfig = Field(default_factory=ChunkerConfig)
    load: LoadOptions = Field(default_factory=LoadOptions)
    resolver: ResolverConfig = Field(default_factory=ResolverConfig)
    extractor: ExtractorOptions = Field(
        default_factory=ExtractorOptions,
        description="How the extractor loads and runs (checkpoint, backend, int8, "
        "relation-label layout, threads) when the builder is given none.",
    )
    overrides: Path | Overrides | None = Field(
        default=None,
        description="User decisions resolution follows on every run: an overrides file "
        '({"same": [[name, name]], "different": [[name, name]]}; read again by each '
        "ingest) or an Overrides object. Documents whose names fall under changed entries "
        "are re-resolved; a run without overrides undoes earlier ones. See "
        "kgbuild.resolve.overrides.",
    )
    batch_size: int = Field(
        default=16, ge=1, description="Chunks per extractor call (from one or more documents)."
    )
    write_batch_size: int = Field(
        default=32, ge=1, description="Documents written to the store per call, at most."
    )
    entity_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Minimum entity score (None: the model's default)."
    )
    relation_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Minimum relation score (None: the model's default)."
    )
    reextract: bool = Field(
        default=False,
        description="Re-extract unchanged documents that an earlier model or schema extracted.",
    )
    prune: bool = Field(
        default=False,
        description="Remove documents from the store that are no longer in the input.",
    )
    engine: Literal["sequential", "ray"] = Field(
        default="sequential",
        description="Where extraction runs: in this process, or on a Ray cluster "
        "(kgbuild.pipeline.ray_engine; needs the kgbuild[ray] extra).",
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster to join (engine='ray'); None: start a local one for the run.",
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="Extraction actors (engine='ray'); None: one per worker_threads CPUs.",
    )
    worker_threads: int = Field(
        default=1, ge=1, description="CPUs (torch threads) per extraction actor (engine='ray')."
    )
    lock_wait: float = Field(
        default=0.0,
        ge=0,
        description="Seconds to wait for another run's lock on the store; 0: fail at once "
        "with kgbuild.pipeline.lock.LockHeld naming that run.",
    )

    @property
    def schema(self) -> Schema:
        """The schema (the field is ``schema_``, aliased ``schema``: BaseModel owns that name)."""
        return self.schema_


@dataclass
class _Work:
    """A document on its way through the pipeline."""

    document: Document
    status: str  # new, changed or reextracted
    chunks: list[Chunk] = field(default_factory=list)
    tokens: int = 0


@dataclass
class _Extracted:
    """What the extraction of one batch gave: per document id, each chunk's extraction;
    the documents that failed (source, reason); seconds spent."""

    found: dict[str, list[Extraction]] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _InFlight:
    """A batch whose extraction runs on the extraction thread."""

    batch: list[_Work]
    future: Future[_Extracted]


@dataclass
class _Run:
    """Counters of one ingest run (turned into an IngestSummary at the end)."""

    summary: IngestSummary
    entity_ids: set[str] = field(default_factory=set)
    relation_ids: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)
    states: dict[str, DocumentState] | None = None
    """The store's document states, read at the start (after overrides were applied)."""

    def fail(self, source: str, stage: str, reason: str) -> None:
        if stage != "load":  # the loader has already logged its failures
            logger.warning("failed (%s): %s: %s", stage, source, reason)
        self.summary.failures.append(DocumentFailure(source=source, stage=stage, reason=reason))
        self.summary.documents.failed += 1

    def skip(self, source: str, reason: str) -> None:
        self.summary.skipped.append(DocumentFailure(source=source, stage="load", reason=reason))
        self.summary.documents.skipped += 1

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            seconds = self.summary.seconds
            setattr(seconds, stage, getattr(seconds, stage) + time.perf_counter() - t0)


class KnowledgeGraphBuilder:
    """Build (and keep up to date) a knowledge graph from document files.

    Args:
        store: A :class:`~kgbuild.store.base.GraphStore`, or a store string for
            :func:`kgbuild.store.open_store` (a path ending in ``.json`` for NetworkX,
            or a ``bolt://`` / ``neo4j://`` / ``neo4j+s://`` URI). A store you pass as
            an object is yours to open and close (``with open_store(...) as store:``);
            a store string is opened and closed by each :meth:`ingest`.
        entity_types: Entity type phrases; override ``config.schema.entity_types``.
        relation_types: Relation type phrases; override ``config.schema.relation_types``.
        extractor: Any :class:`~kgbuild.extract.base.Extractor`; default: the model
            shipped with kgbuild (loaded on first use), or ``model_dir``.
        config: A :class:`BuildConfig`; defaults for everything not given.
        model_dir: A checkpoint folder to load the extractor from (when ``extractor`` is None).
        progress: Show progress bars on stderr: True, False, or None (only on a terminal).

    Only one :meth:`ingest` at a time runs on a store (see :mod:`kgbuild.pipeline.lock`).
    Setting :attr:`stop` (a ``threading.Event``, e.g. from a signal handler) ends the
    current ingest after the documents in flight are written, without pruning; clear it
    before the next ingest.
    """

    def __init__(
        self,
        store: GraphStore | str | Path,
        entity_types: Sequence[str] | None = None,
        relation_types: Sequence[str] | None = None,
        extractor: Extractor | None = None,
        config: BuildConfig | None = None,
        *,
        model_dir: str | Path | None = None,
        progress: bool | None = None,
    ) -> None:
        config = config or BuildConfig()
        if entity_types is not None or relation_types is not None:
            schema = config.schema
            update: dict[str, Any] = {}
            if entity_types is not None:
                update["entity_types"] = list(entity_types)
            if relation_types is not None:
                update["relation_types"] = list(relation_types)
            # Re-validate: the type names become graph labels.
            new_schema = Schema.model_validate({**schema.model_dump(), **update})
            config = config.model_copy(update={"schema_": new_schema})
        self.config = config
        self.store = store
        self.model_dir = model_dir
        self.progress = progress
        self._extractor = extractor
        self._resolver = None
        self.stop = threading.Event()
        self._overlap = self.config.chunker.overlap_tokens
        self._types: tuple[set[str], set[str]] | None = None
        self._reresolved: set[str] = set()  # documents re-resolved for changed overrides

    # -- public --------------------------------------------------------------------------

    @property
    def schema(self) -> Schema:
        return self.config.schema

    @property
    def extractor(self) -> Extractor:
        """The extractor, loaded on first use."""
        if self._extractor is None:
            from kgbuild.pipeline.api import load_pipeline_extractor

            options = self.config.extractor
            if self.model_dir is not None:
                options = options.model_copy(update={"model": Path(self.model_dir)})
            self._extractor = load_pipeline_extractor(options)
        return self._extractor

    def ingest(self, paths: Iterable[str | Path] | str | Path) -> IngestSummary:
        """Bring the store up to date with the documents under ``paths``.

        New and changed documents are extracted and written; unchanged ones are
        skipped; documents in the store that are no longer in the input are
        reported as deleted (and removed when ``config.prune``). A document that
        cannot be loaded, extracted or written is reported in
        ``summary.failures`` and the run goes on; what the store held for it
        stays as it was.

        Returns:
            An :class:`~kgbuild.pipeline.summary.IngestSummary`.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        paths = list(paths)
        with self._open_store() as store:
            if self.config.engine == "ray":
                from kgbuild.pipeline.ray_engine import ingest_on_ray

                return ingest_on_ray(self, store, paths)
            return self._ingest(store, paths)

    # -- the run -------------------------------------------------------------------------

    @contextmanager
    def _open_store(self) -> Iterator[GraphStore]:
        """The store, open and under its run lock (one ingest at a time per store)."""
        from kgbuild.pipeline.lock import locked_store

        with locked_store(self.store, wait=self.config.lock_wait, on_lost=self.stop.set) as store:
            yield store

    def _start(self, store: GraphStore, paths: list[str | Path]) -> _Run:
        """Set up a run (both engines): the store's schema, the resolver, the counters."""
        from kgbuild.pipeline.overrides import read_overrides

        overrides = read_overrides(self.config.overrides)  # a bad file stops the run here
        extractor = self.extractor
        fingerprint = self.schema.fingerprint()
        run = _Run(
            IngestSummary(
                store=describe_store(self.store),
                model_id=extractor.model_id,
                schema_fingerprint=fingerprint,
            )
        )
        store.model_id = extractor.model_id
        store.schema_fingerprint = fingerprint
        store.setup_schema()
        self._get_resolver().reset()
        self._get_resolver().set_overrides(overrides)
        run.states = self._apply_overrides(store, paths)
        logger.info(
            "ingesting %s into %s with %s",
            ", ".join(str(p) for p in paths),
            run.summary.store,
            extractor.model_id,
        )
        return run

    def _apply_overrides(
        self, store: GraphStore, paths: list[str | Path]
    ) -> dict[str, DocumentState]:
        """Remove the stored documents of this run's input whose names fall under other
        override entries than when they were resolved (they are ingested again, as if
        new); returns the document states left."""
        from kgbuild.pipeline.overrides import documents_to_reresolve

        resolver = self._get_resolver()
        states = store.document_states()
        touched = documents_to_reresolve(store, states, resolver.overrides, resolver.name_kind)
        inputs = [_as_uri(str(p)) for p in paths]
        mine = [s for s in touched if any(_under(s.source, p) for p in inputs)]
        if len(mine) < len(touched):
            logger.warning(
                "%d stored document(s) under changed overrides are not in this run's input "
                "(e.g. %s): ingest them to apply the overrides there",
                len(touched) - len(mine),
                next(s.source for s in touched if s not in mine),
            )
        self._reresolved = {s.id for s in mine}
        if mine:
            logger.info("re-resolving %d document(s) under changed overrides", len(mine))
            store.delete_documents([s.id for s in mine])
            for s in mine:
                states.pop(s.id, None)
        return states

    def _finish(self, store: GraphStore, run: _Run) -> IngestSummary:
        """Close a run (both engines): totals, graph counts, the summary."""
        from kgbuild.pipeline.overrides import warn_unused_names

        resolver = self._get_resolver()
        warn_unused_names(
            store,
            resolver.overrides,
            resolver.name_kind,
            str(self.config.overrides) if isinstance(self.config.overrides, Path) else "",
        )
        run.summary.entities = len(run.entity_ids)
        run.summary.relations = len(run.relation_ids)
        run.summary.graph = store.counts()
        run.summary.seconds.total = time.perf_counter() - run.started
        logger.info("ingest finished\n%s", run.summary.render())
        return run.summary

    def _ingest(self, store: GraphStore, paths: list[str | Path]) -> IngestSummary:
        extractor = self.extractor
        fingerprint = self.schema.fingerprint()
        run = self._start(store, paths)
        states = run.states if run.states is not None else store.document_states()
        # The chunk budget needs the extractor's tokenizer, which may load the model
        # (LazyExtractor): asked for when the first document needs chunking, so a run
        # where nothing changed never loads it.
        budget: int | None = None

        seen: set[str] = set()
        failed_sources: list[str] = []
        batch: list[_Work] = []
        batch_chunks = 0
        # The batch being extracted on the extraction thread while this one loads, chunks,
        # resolves and writes (see _hand_over).
        pending: _InFlight | None = None
        with (
            StageProgress(self.progress) as progress,
            ThreadPoolExecutor(1, thread_name_prefix="kgbuild-extract-batch") as pool,
        ):
            documents = iter_documents(paths, self.config.load)
            while True:
                if self.stop.is_set():
                    break
                with run.timed("load"):
                    item = next(documents, None)
                if item is None:
                    break
                progress.advance("load")
                if isinstance(item, LoadFailure):
                    failed_sources.append(item.source)
                    if item.reason.startswith("skipped"):  # unsupported or binary: a warning
                        run.skip(item.source, item.reason)
                    else:
                        run.fail(item.source, "load", item.reason)
                    continue
                if item.id in seen:  # the loader already drops files named twice
                    continue
                seen.add(item.id)
                status = self._status(item, states.get(item.id), extractor.model_id, fingerprint)
                if status == "unchanged":
                    run.summary.documents.unchanged += 1
                    continue
                if budget is None:
                    budget = self._chunk_budget()
                work = self._chunk(item, status, budget, run)
                if work is None:
                    continue
                batch.append(work)
                batch_chunks += len(work.chunks)
                if self._batch_full(batch, batch_chunks):
                    pending = self._hand_over(pending, batch, pool, store, run, progress)
                    batch, batch_chunks = [], 0
            if batch:
                pending = self._hand_over(pending, batch, pool, store, run, progress)
            if pending is not None:
                self._resolve_and_write(
                    pending.batch, self._collect(pending, run, progress), store, run, progress
                )

        if self.stop.is_set():
            # Not every input was seen: what looks deleted may just not be reached yet.
            logger.warning("stopped on request; not checking for deleted documents")
        else:
            gone = (s for doc_id, s in states.items() if doc_id not in seen)
            self._handle_deleted(store, gone, failed_sources, run)
        return self._finish(store, run)

    def _batch_full(self, batch: list[_Work], chunks: int) -> bool:
        """Whether a batch of documents goes through the tail now (the same rule on both
        engines, so documents are resolved and written in the same groups)."""
        return chunks >= self.config.batch_size or len(batch) >= self.config.write_batch_size

    def _chunk_budget(self) -> int:
        """Text tokens per chunk (and ``self._overlap``), from the extractor's window."""
        budget, self._overlap = chunk_budget(
            self.config.chunker,
            # the labels as the extractor reads them (with their descriptions)
            self.extractor.max_text_tokens(*self.schema.prompt_labels()[:2]),
        )
        logger.info("%d text tokens per chunk, %d overlap", budget, self._overlap)
        return budget

    def _get_resolver(self):  # -> EntityResolver
        if self._resolver is None:
            from kgbuild.resolve import EntityResolver

            self._resolver = EntityResolver(self.config.resolver)
        return self._resolver

    def _status(
        self, doc: Document, state: DocumentState | None, model_id: str, fingerprint: str
    ) -> str:
        if state is None:
            return "changed" if doc.id in self._reresolved else "new"
        if state.content_hash != doc.content_hash:
            return "changed"
        if self.config.reextract and (
            state.model_id != model_id or state.schema_fingerprint != fingerprint
        ):
            return "reextracted"
        return "unchanged"

    def _chunk(self, doc: Document, status: str, budget: int, run: _Run) -> _Work | None:
        """Chunk one document, counting its tokens on the way (one tokenization)."""
        work = _Work(document=doc, status=status)
        token_spans = self.extractor.token_spans

        def counting_spans(text: str) -> list[tuple[int, int]]:
            spans = token_spans(text)
            if text is doc.text:  # the chunker tokenizes the whole document once
                work.tokens = len(spans)
            return spans

        with run.timed("chunk"):
            try:
                work.chunks = chunk_document(
                    doc,
                    counting_spans,
                    budget,
                    self._overlap,
                    self.config.chunker.sentence_splitter,
                )
            except ValueError as exc:
                run.fail(doc.source, "chunk", str(exc))
                return None
        return work

    def _hand_over(
        self,
        pending: _InFlight | None,
        batch: list[_Work],
        pool: ThreadPoolExecutor,
        store: GraphStore,
        run: _Run,
        progress: StageProgress,
    ) -> _InFlight:
        """Start extracting ``batch`` on the extraction thread, then resolve and write the
        batch extracted before it, so that the model works while the serial tail runs.

        One batch at a time is extracted (the extractor's own threads are not shared) and
        tails run in input order, after the extraction failures of their batch are
        recorded: the graph and the summary are those of one batch after the other. The
        tail (Python) and the model (ONNX Runtime and torch, outside the GIL) share the
        cores: on 2 cores, 5,323 tokens/s end to end against 4,981 one batch after the
        other (1 MB, NetworkX).
        """
        if pending is None:
            return _InFlight(batch, pool.submit(self._extract_batch, batch))
        extracted = self._collect(pending, run, progress)
        in_flight = _InFlight(batch, pool.submit(self._extract_batch, batch))
        self._resolve_and_write(pending.batch, extracted, store, run, progress)
        return in_flight

    def _collect(
        self, pending: _InFlight, run: _Run, progress: StageProgress
    ) -> dict[str, list[Extraction]]:
        """Wait for a batch's extraction; its timing, failures and progress go to ``run``."""
        return self._record_extraction(pending.batch, pending.future.result(), run, progress)

    def _resolve_and_write(
        self,
        batch: list[_Work],
        extractions: dict[str, list[Extraction]],
        store: GraphStore,
        run: _Run,
        progress: StageProgress,
    ) -> None:
        """The serial tail of a batch (both engines): merge, resolve, assemble, write.

        ``extractions[document id]`` holds what the extractor found in each chunk of that
        document; a document missing there failed in extraction (already reported).
        """
        merged: dict[str, DocumentExtraction] = {}
        with run.timed("resolve"):
            for work in batch:
                found = extractions.get(work.document.id)
                if found is None:
                    continue  # failed in extraction, already reported
                try:
                    merged[work.document.id] = merge_chunk_extractions(work.chunks, found)
                except Exception as exc:  # noqa: BLE001 - one document's failure is reported
                    run.fail(work.document.source, "resolve", _reason(exc))
            # One alias-index lookup for the batch instead of one per document.
            self._get_resolver().prefetch(
                ((e.text, e.label) for found in merged.values() for e in found.entities), store
            )
        graphs: list[tuple[_Work, DocumentGraph]] = []
        for work in batch:
            found = merged.get(work.document.id)
            if found is None:
                continue
            with run.timed("resolve"):
                try:
                    graph = self._assemble(work, found, store)
                except PipelineError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one document's failure is reported
                    run.fail(work.document.source, "resolve", _reason(exc))
                    continue
            graphs.append((work, graph))

        for begin in range(0, len(graphs), self.config.write_batch_size):
            self._write(graphs[begin : begin + self.config.write_batch_size], store, run)
        progress.advance("write", len(graphs))

    def _extract(
        self, batch: list[_Work], run: _Run, progress: StageProgress
    ) -> dict[str, list[Extraction]]:
        """Extract every chunk of the batch; on an error, retry document by document."""
        return self._record_extraction(batch, self._extract_batch(batch), run, progress)

    def _extract_batch(self, batch: list[_Work]) -> _Extracted:
        """:meth:`_extract` without touching the run: safe on the extraction thread."""
        schema, cfg = self.schema, self.config

        def extract(texts: list[str]) -> list[Extraction]:
            return run_extractor(
                self.extractor,
                texts,
                schema.entity_types,
                schema.relation_types,
                batch_size=cfg.batch_size,
                entity_threshold=cfg.entity_threshold,
                relation_threshold=cfg.relation_threshold,
                descriptions=schema.descriptions,
            )

        done = _Extracted()
        t0 = time.perf_counter()
        try:
            results = extract([c.text for w in batch for c in w.chunks])
        except ExtractionError:
            raise
        except Exception as exc:  # noqa: BLE001 - find the document that fails
            logger.warning("extraction of a batch failed (%s); retrying each document", exc)
            results = None
        if results is not None:
            offset = 0
            for work in batch:
                done.found[work.document.id] = results[offset : offset + len(work.chunks)]
                offset += len(work.chunks)
        else:
            for work in batch:
                try:
                    done.found[work.document.id] = extract([c.text for c in work.chunks])
                except ExtractionError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    done.failures.append((work.document.source, _reason(exc)))
        done.seconds = time.perf_counter() - t0
        return done

    @staticmethod
    def _record_extraction(
        batch: list[_Work], done: _Extracted, run: _Run, progress: StageProgress
    ) -> dict[str, list[Extraction]]:
        run.summary.seconds.extract += done.seconds
        for source, reason in done.failures:
            run.fail(source, "extract", reason)
        progress.advance("extract", sum(len(w.chunks) for w in batch))
        return done.found

    def _assemble(self, work: _Work, found: DocumentExtraction, store: GraphStore) -> DocumentGraph:
        """Mentions, resolved entities and relations of one document, as a DocumentGraph."""
        doc, chunks = work.document, work.chunks
        entity_types, relation_types = self._writable_types()
        symmetric = set(self.schema.symmetric_relations)
        constraints = self.schema.relation_constraints

        mentions: list[Mention | None] = []
        for ent, chunk_index in zip(found.entities, found.entity_chunks, strict=True):
            if ent.label not in entity_types:
                logger.debug("%s: dropping entity of unknown type %r", doc.id, ent.label)
                mentions.append(None)
                continue
            place = doc.locate(ent.start)
            mentions.append(
                Mention(
                    id=mention_id(doc.id, ent.start, ent.end, ent.label),
                    document_id=doc.id,
                    chunk_id=chunks[chunk_index].id,
                    start=ent.start,
                    end=ent.end,
                    text=ent.text,
                    label=ent.label,
                    score=ent.score,
                    page=place.page if place else None,
                    section=place.heading if place else None,
                )
            )
        kept = [m for m in mentions if m is not None]
        for m in kept:
            if doc.text[m.start : m.end] != m.text:
                raise PipelineError(
                    f"internal error: mention {m.text!r} at {m.start}:{m.end} of {doc.source} "
                    f"does not match the document text {doc.text[m.start : m.end]!r}"
                )

        # Relations between kept mentions: neighbours, evidence for short forms.
        position = {id(m): i for i, m in enumerate(kept)}
        related = [
            (position[id(head)], position[id(tail)])
            for r in found.relations
            if (head := mentions[r.head]) is not None and (tail := mentions[r.tail]) is not None
        ]
        resolved = self._get_resolver().resolve_document(kept, store, related)
        entity_of = {m.id: m.entity_id for m in resolved.mentions}

        relations: dict[str, Relation] = {}
        for r in found.relations:
            head, tail = mentions[r.head], mentions[r.tail]
            if head is None or tail is None or r.label not in relation_types:
                continue
            rule = constraints.get(r.label)
            if rule is not None and not rule.permits(head.label, tail.label, r.label in symmetric):
                continue  # the schema does not allow this relation between these types
            head_id, tail_id = entity_of.get(head.id), entity_of.get(tail.id)
            if head_id is None or tail_id is None or head_id == tail_id:
                continue  # unresolved, or a relation of an entity to itself
            if r.label in symmetric and tail_id < head_id:
                head_id, tail_id, head, tail = tail_id, head_id, tail, head
            rid = relation_id(head_id, r.label, tail_id)
            evidence = RelationEvidence(
                document_id=doc.id,
                chunk_id=chunks[r.chunk_index].id,
                head_mention_id=head.id,
                tail_mention_id=tail.id,
                score=r.score,
            )
            rel = relations.get(rid)
            if rel is None:
                relations[rid] = Relation(
                    id=rid,
                    head_id=head_id,
                    tail_id=tail_id,
                    type=r.label,
                    score=r.score,
                    evidence=[evidence],
                )
            else:
                rel.evidence.append(evidence)
                rel.score = max(rel.score, r.score)

        return DocumentGraph(
            document=doc,
            chunks=chunks,
            mentions=list(resolved.mentions),
            entities=list(resolved.entities),
            relations=[relations[k] for k in sorted(relations)],
            overrides=resolved.overrides,
        )

    def _writable_types(self) -> tuple[set[str], set[str]]:
        """The schema's types that can become graph labels (checked once, warned once).

        A type that maps to a reserved or invalid label would make every document that
        uses it fail to write; its entities or relations are left out instead, with a
        warning naming the type.
        """
        if self._types is None:
            ok_entities, ok_relations = set(), set()
            for phrase in self.schema.entity_types:
                try:
                    entity_label(phrase)
                    ok_entities.add(phrase)
                except InvalidTypeName as exc:
                    logger.warning("%s: its entities are not written; rename the type", exc)
            for phrase in self.schema.relation_types:
                try:
                    relation_label(phrase)
                    ok_relations.add(phrase)
                except InvalidTypeName as exc:
                    logger.warning("%s: its relations are not written; rename the type", exc)
            self._types = (ok_entities, ok_relations)
        return self._types

    def _write(
        self, graphs: list[tuple[_Work, DocumentGraph]], store: GraphStore, run: _Run
    ) -> None:
        """Write a batch; if it fails, write document by document to isolate the bad one."""
        if not graphs:
            return
        with run.timed("write"):
            try:
                store.write_documents([g for _, g in graphs])
                written = graphs
            except Exception as exc:  # noqa: BLE001 - find the document that fails
                logger.warning("writing a batch failed (%s); retrying each document", exc)
                written = []
                for work, graph in graphs:
                    try:
                        store.write_documents([graph])
                        written.append((work, graph))
                    except Exception as one_exc:  # noqa: BLE001
                        run.fail(work.document.source, "write", _reason(one_exc))
        for work, graph in written:
            counts = run.summary.documents
            setattr(counts, work.status, getattr(counts, work.status) + 1)
            run.summary.chunks += len(graph.chunks)
            run.summary.mentions += len(graph.mentions)
            run.summary.tokens += work.tokens
            run.summary.characters += len(graph.document.text)
            run.entity_ids.update(e.id for e in graph.entities)
            run.relation_ids.update(r.id for r in graph.relations)

    def _handle_deleted(
        self,
        store: GraphStore,
        gone: Iterable[DocumentState],
        failed_sources: list[str],
        run: _Run,
    ) -> None:
        """Report (and with prune, remove) stored documents that are not in the input.

        ``gone``: the stored documents this run did not see. A document whose file
        failed to load in this run is not "deleted": its stored version is kept until
        the file loads again.
        """
        protected = [_as_uri(s) for s in failed_sources]
        deleted = sorted(gone, key=lambda s: s.source)
        deleted = [s for s in deleted if not any(_under(s.source, p) for p in protected)]
        run.summary.documents.deleted = len(deleted)
        run.summary.deleted_sources = [s.source for s in deleted]
        if not deleted:
            return
        if not self.config.prune:
            logger.info(
                "%d document(s) in the store are not in the input; prune to remove them",
                len(deleted),
            )
            return
        with run.timed("prune"):
            store.delete_documents([s.id for s in deleted])
        run.summary.documents.pruned = len(deleted)
        logger.info("pruned %d document(s) no longer in the input", len(deleted))


def chunk_budget(config: ChunkerConfig, window: int) -> tuple[int, int]:
    """(max tokens, overlap tokens) for chunks, given the extractor's text window.

    ``config.max_tokens`` above the window is lowered to it; an overlap that would
    not leave room for new text (``>= max_tokens / 2``) is lowered too, with a note.
    """
    if window < 2:
        raise ValueError(
            f"the extractor's window leaves {window} token(s) for text beside the labels: "
            "use fewer or shorter entity and relation types"
        )
    budget = window if config.max_tokens is None else min(config.max_tokens, window)
    if config.max_tokens is not None and config.max_tokens > window:
        logger.warning(
            "chunker max_tokens=%d exceeds the extractor's %d text tokens; using %d",
            config.max_tokens,
            window,
            window,
        )
    overlap = config.overlap_tokens
    if overlap >= budget / 2:
        overlap = (budget - 1) // 2
        logger.info(
            "overlap_tokens=%d is too large for %d-token chunks; using %d",
            config.overlap_tokens,
            budget,
            overlap,
        )
    return budget, overlap


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if "\n" in text else text


def describe_store(store: GraphStore | str | Path) -> str:
    """How a store is named in summaries and logs: its path or URI, never a password."""
    if isinstance(store, GraphStore):
        path = getattr(store, "path", None) or getattr(store, "uri", None)
        text = str(path) if path else type(store).__name__
    else:
        text = str(store)
    return re.sub(r"//[^/@]*@", "//***@", text)  # bolt://user:secret@host -> bolt://***@host


def _as_uri(source: str) -> str:
    """A failure's source as a file URI (a missing path is reported as given)."""
    if "://" in source or source.startswith("file:"):
        return source
    try:
        return Path(source).resolve().as_uri()
    except (OSError, ValueError):
        return source


def _under(source: str, prefix: str) -> bool:
    """Whether a document source comes from the file or folder ``prefix``."""
    return source == prefix or source.startswith((prefix + "#", prefix.rstrip("/") + "/"))
