"""The pipeline's stages: small components with typed inputs and outputs.

Both engines compose the same stages, in the same order, so they build the same graph:
the sequential engine (:mod:`kgbuild.pipeline.sequential`) in one process, the Ray
engine (:mod:`kgbuild.pipeline.ray_engine`) with planning, chunking and extraction on
Ray actors and the serial tail in the driver::

    DocumentPlanner  Document, DocumentState | None   -> DocumentStatus ("unchanged": skip)
    ChunkStage       Document, status, ChunkLimits     -> DocumentWork | DocumentFailure
    ExtractStage     [DocumentWork]                    -> BatchExtraction (per document)
    AssembleStage    Document, chunks, DocumentExtraction -> DocumentGraph (entities resolved)
    WriteStage       [AssembledDocument]               -> WrittenBatch (written, failures)

Each stage is a plain object built from its own settings whose ``run`` reads only its
input and the store it is given. A document that fails in chunking, extraction or
writing comes back as a :class:`~kgbuild.pipeline.summary.DocumentFailure`, so one bad
document never stops the rest (assembly raises; the tail reports it the same way); an
internal inconsistency raises :class:`PipelineError` or
:class:`~kgbuild.pipeline.extraction.ExtractionError` and stops the run.

:class:`PipelineStages` builds the stages from a
:class:`~kgbuild.pipeline.config.BuildConfig` and an extractor and adds what a run does
around them (:meth:`~PipelineStages.start`, :meth:`~PipelineStages.batch_full`,
:meth:`~PipelineStages.resolve_and_write`, :meth:`~PipelineStages.handle_deleted`,
:meth:`~PipelineStages.finish`), recording counts, failures and seconds in an
:class:`IngestRun`.

Example (what an engine does with one document)::

    stages = PipelineStages(BuildConfig(), extractor)
    run = stages.start(store, ["docs/"], store_name="graph.json")
    state = store.document_states_for([document.id]).get(document.id)
    status = stages.planner.run(document, state)
    work = stages.chunk(document, status, stages.chunk_limits(), run)
    found = stages.record_extraction([work], stages.extraction.run([work]), run, progress)
    stages.resolve_and_write([work], found, store, run, progress)
    summary = stages.finish(store, run)
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.extract.base import Extraction, Extractor
from kgbuild.ingest.chunker import ChunkerConfig, chunk_document
from kgbuild.pipeline.assemble import AssembleStage, PipelineError
from kgbuild.pipeline.config import BuildConfig
from kgbuild.pipeline.extraction import (
    DocumentExtraction,
    ExtractionError,
    merge_chunk_extractions,
    run_extractor,
)
from kgbuild.pipeline.progress import StageProgress
from kgbuild.pipeline.summary import DocumentFailure, IngestSummary
from kgbuild.schema import Schema
from kgbuild.store.base import DocumentState, GraphStore
from kgbuild.types import Chunk, Document, DocumentGraph

if TYPE_CHECKING:
    from kgbuild.resolve import EntityResolver
    from kgbuild.search.embeddings import IngestEmbedder

__all__ = [
    "AssembleStage",
    "AssembledDocument",
    "BatchExtraction",
    "ChunkLimits",
    "ChunkStage",
    "DocumentPlanner",
    "DocumentStatus",
    "DocumentWork",
    "ExtractStage",
    "IngestRun",
    "PipelineError",
    "PipelineStages",
    "WriteStage",
    "WrittenBatch",
    "chunk_budget",
    "describe_store",
]

logger = logging.getLogger(__name__)

#: What a run does with a document: extract a new, changed or re-extracted one; skip
#: an unchanged one.
DocumentStatus = Literal["new", "changed", "reextracted", "unchanged"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- what crosses the stages -------------------------------------------------------------------


class DocumentWork(_Model):
    """A document on its way through the pipeline: its chunks and their token count."""

    document: Document
    status: Literal["new", "changed", "reextracted"]
    chunks: list[Chunk] = Field(default_factory=list)
    tokens: int = Field(default=0, description="Extractor tokens of the whole document text.")


class ChunkLimits(_Model):
    """Text tokens per chunk and overlap, fitted to the extractor's window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(ge=1)
    overlap_tokens: int = Field(ge=0)


class BatchExtraction(_Model):
    """What extracting one batch gave: each chunk's extraction per document id (in chunk
    order), the documents that failed, and the seconds spent."""

    found: dict[str, list[Extraction]] = Field(default_factory=dict)
    failures: list[DocumentFailure] = Field(default_factory=list)
    seconds: float = 0.0


class AssembledDocument(_Model):
    """A document's graph, ready to write, with the work it came from (for the counts)."""

    work: DocumentWork
    graph: DocumentGraph


class WrittenBatch(_Model):
    """What a write gave: the documents written, in order, and the ones that failed."""

    written: list[AssembledDocument] = Field(default_factory=list)
    failures: list[DocumentFailure] = Field(default_factory=list)


# -- the stages ------------------------------------------------------------------------------


class DocumentPlanner:
    """Decides what a run does with a document, from what the store knows about it.

    New (not stored) and changed (another content hash) documents are extracted; with
    ``reextract``, so are unchanged ones that another model or schema extracted.
    """

    def __init__(self, model_id: str, schema_fingerprint: str, *, reextract: bool) -> None:
        self.model_id = model_id
        self.schema_fingerprint = schema_fingerprint
        self.reextract = reextract
        #: Documents this run removed to re-resolve them under changed overrides: "changed".
        self.reresolved: set[str] = set()

    def run(self, document: Document, state: DocumentState | None) -> DocumentStatus:
        if state is None:
            return "changed" if document.id in self.reresolved else "new"
        if state.content_hash != document.content_hash:
            return "changed"
        if self.reextract and (
            state.model_id != self.model_id or state.schema_fingerprint != self.schema_fingerprint
        ):
            return "reextracted"
        return "unchanged"


class ChunkStage:
    """Splits a document into chunks that fit the extractor's window (one tokenization
    of the document, which also gives its token count)."""

    def __init__(self, extractor: Extractor, schema: Schema, config: ChunkerConfig) -> None:
        self.extractor = extractor
        self.schema = schema
        self.config = config

    def limits(self) -> ChunkLimits:
        """The chunk size for this extractor and schema (asks the extractor's tokenizer,
        which may load the model: call it when a document first needs chunking)."""
        budget, overlap = chunk_budget(
            self.config,
            # the labels as the extractor reads them (with their descriptions)
            self.extractor.max_text_tokens(*self.schema.prompt_labels()[:2]),
        )
        logger.info("%d text tokens per chunk, %d overlap", budget, overlap)
        return ChunkLimits(max_tokens=budget, overlap_tokens=overlap)

    def run(
        self, document: Document, status: DocumentStatus, limits: ChunkLimits
    ) -> DocumentWork | DocumentFailure:
        if status == "unchanged":
            raise ValueError(f"{document.source}: an unchanged document is not chunked")
        work = DocumentWork(document=document, status=status)
        token_spans = self.extractor.token_spans

        def counting_spans(text: str) -> list[tuple[int, int]]:
            spans = token_spans(text)
            if text is document.text:  # the chunker tokenizes the whole document once
                work.tokens = len(spans)
            return spans

        try:
            work.chunks = chunk_document(
                document,
                counting_spans,
                limits.max_tokens,
                limits.overlap_tokens,
                self.config.sentence_splitter,
            )
        except ValueError as exc:
            return DocumentFailure(source=document.source, stage="chunk", reason=str(exc))
        return work


class ExtractStage:
    """Runs the extractor over every chunk of a batch of documents.

    One extractor call for the batch; if it fails, one per document, so that only the
    document that fails is reported. Touches nothing but the extractor: safe to run on
    another thread or process.
    """

    def __init__(
        self,
        extractor: Extractor,
        schema: Schema,
        *,
        batch_size: int,
        entity_threshold: float | None,
        relation_threshold: float | None,
    ) -> None:
        self.extractor = extractor
        self.schema = schema
        self.batch_size = batch_size
        self.entity_threshold = entity_threshold
        self.relation_threshold = relation_threshold

    def _extract(self, texts: list[str]) -> list[Extraction]:
        return run_extractor(
            self.extractor,
            texts,
            self.schema.entity_types,
            self.schema.relation_types,
            batch_size=self.batch_size,
            entity_threshold=self.entity_threshold,
            relation_threshold=self.relation_threshold,
            descriptions=self.schema.descriptions,
        )

    def run(self, batch: list[DocumentWork]) -> BatchExtraction:
        """Raises :class:`~kgbuild.pipeline.extraction.ExtractionError` (an extractor
        answering nonsense stops the run); any other error fails only its document."""
        done = BatchExtraction()
        t0 = time.perf_counter()
        try:
            results = self._extract([c.text for w in batch for c in w.chunks])
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
                    done.found[work.document.id] = self._extract([c.text for c in work.chunks])
                except ExtractionError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    done.failures.append(
                        DocumentFailure(
                            source=work.document.source, stage="extract", reason=reason(exc)
                        )
                    )
        done.seconds = time.perf_counter() - t0
        return done


class WriteStage:
    """Writes documents' graphs in batches; when a batch fails, document by document, so
    that only the document that fails is reported (and keeps what the store held)."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def run(self, documents: list[AssembledDocument], store: GraphStore) -> WrittenBatch:
        """One store call (at most ``batch_size`` documents; call once per batch)."""
        out = WrittenBatch()
        if not documents:
            return out
        try:
            store.write_documents([d.graph for d in documents])
            out.written = list(documents)
        except Exception as exc:  # noqa: BLE001 - find the document that fails
            logger.warning("writing a batch failed (%s); retrying each document", exc)
            for doc in documents:
                try:
                    store.write_documents([doc.graph])
                    out.written.append(doc)
                except Exception as one_exc:  # noqa: BLE001
                    out.failures.append(
                        DocumentFailure(
                            source=doc.work.document.source, stage="write", reason=reason(one_exc)
                        )
                    )
        return out


# -- a run ------------------------------------------------------------------------------------


@dataclass
class IngestRun:
    """The counters of one ingest run, turned into its :class:`IngestSummary` at the end."""

    summary: IngestSummary
    entity_ids: set[str] = field(default_factory=set)
    relation_ids: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)
    states: dict[str, DocumentState] | None = None
    """The store's document states, read at the start (after overrides were applied)."""
    embedder: IngestEmbedder | None = None
    """Search vectors of this run (``BuildConfig.embeddings``), else None."""

    def fail(self, source: str, stage: str, reason: str) -> None:
        """Report a document that failed (logged, except load failures: the loader logs)."""
        if stage != "load":
            logger.warning("failed (%s): %s: %s", stage, source, reason)
        self.summary.failures.append(DocumentFailure(source=source, stage=stage, reason=reason))
        self.summary.documents.failed += 1

    def skip(self, source: str, reason: str) -> None:
        """Report a file the loader skipped (unsupported or binary)."""
        self.summary.skipped.append(DocumentFailure(source=source, stage="load", reason=reason))
        self.summary.documents.skipped += 1

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the seconds spent inside to ``summary.seconds.<stage>``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            seconds = self.summary.seconds
            setattr(seconds, stage, getattr(seconds, stage) + time.perf_counter() - t0)


class PipelineStages:
    """The stages for one :class:`BuildConfig` and extractor, and the steps of a run
    that both engines take with them.

    A builder keeps one across its runs: the resolver's cache and the warnings about
    types that cannot become graph labels are per builder, not per run.
    """

    def __init__(self, config: BuildConfig, extractor: Extractor) -> None:
        self.config = config
        self.schema = config.schema
        self.model_id = extractor.model_id
        self.schema_fingerprint = self.schema.fingerprint()
        self.planner = DocumentPlanner(
            self.model_id, self.schema_fingerprint, reextract=config.reextract
        )
        self.chunker = ChunkStage(extractor, self.schema, config.chunker)
        self.extraction = ExtractStage(
            extractor,
            self.schema,
            batch_size=config.batch_size,
            entity_threshold=config.entity_threshold,
            relation_threshold=config.relation_threshold,
        )
        self.assembler = AssembleStage(self.schema, config.resolver)
        self.writer = WriteStage(config.write_batch_size)

    @property
    def resolver(self) -> EntityResolver:
        return self.assembler.resolver

    def start(self, store: GraphStore, paths: Iterable[str | Path], store_name: str) -> IngestRun:
        """Set up a run: the store's schema and provenance, a fresh resolver, the counters.

        ``store_name``: how the summary names the store (see :func:`describe_store`).
        Applies the config's overrides: a bad overrides file stops the run here.
        """
        from kgbuild.pipeline.overrides import read_overrides

        paths = list(paths)
        overrides = read_overrides(self.config.overrides)
        run = IngestRun(
            IngestSummary(
                store=store_name,
                model_id=self.model_id,
                schema_fingerprint=self.schema_fingerprint,
            )
        )
        store.model_id = self.model_id
        store.schema_fingerprint = self.schema_fingerprint
        store.setup_schema()
        self.resolver.reset()
        self.resolver.set_overrides(overrides)
        run.states = self._apply_overrides(store, paths)
        run.embedder = self._start_embeddings()
        logger.info(
            "ingesting %s into %s with %s",
            ", ".join(str(p) for p in paths),
            run.summary.store,
            self.model_id,
        )
        return run

    def _apply_overrides(
        self, store: GraphStore, paths: list[str | Path]
    ) -> dict[str, DocumentState]:
        """Remove the stored documents of this run's input whose names fall under other
        override entries than when they were resolved (they are ingested again, as if
        new); returns the document states left."""
        from kgbuild.pipeline.overrides import documents_to_reresolve

        resolver = self.resolver
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
        self.planner.reresolved = {s.id for s in mine}
        if mine:
            logger.info("re-resolving %d document(s) under changed overrides", len(mine))
            store.delete_documents([s.id for s in mine])
            for s in mine:
                states.pop(s.id, None)
        return states

    def batch_full(self, documents: int, chunks: int) -> bool:
        """Whether a batch of ``documents`` holding ``chunks`` chunks goes through the tail
        now (the same rule on both engines, so documents are resolved and written in the
        same groups)."""
        return chunks >= self.config.batch_size or documents >= self.config.write_batch_size

    def chunk_limits(self) -> ChunkLimits:
        return self.chunker.limits()

    def chunk(
        self, document: Document, status: DocumentStatus, limits: ChunkLimits, run: IngestRun
    ) -> DocumentWork | DocumentFailure:
        """:class:`ChunkStage`, timed, a failure recorded in ``run``."""
        with run.timed("chunk"):
            out = self.chunker.run(document, status, limits)
        if isinstance(out, DocumentFailure):
            run.fail(out.source, out.stage, out.reason)
        return out

    def record_extraction(
        self,
        batch: list[DocumentWork],
        extracted: BatchExtraction,
        run: IngestRun,
        progress: StageProgress,
    ) -> dict[str, list[Extraction]]:
        """Record an :class:`ExtractStage` result in ``run``: seconds, failures, progress.
        Returns the extractions by document id (a failed document is missing)."""
        run.summary.seconds.extract += extracted.seconds
        for failure in extracted.failures:
            run.fail(failure.source, failure.stage, failure.reason)
        progress.advance("extract", sum(len(w.chunks) for w in batch))
        return extracted.found

    def resolve_and_write(
        self,
        batch: list[DocumentWork],
        extractions: dict[str, list[Extraction]],
        store: GraphStore,
        run: IngestRun,
        progress: StageProgress,
    ) -> None:
        """The serial tail of a batch: merge chunk results, resolve, assemble, write.

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
                    run.fail(work.document.source, "resolve", reason(exc))
            self.assembler.prefetch(merged.values(), store)
        assembled: list[AssembledDocument] = []
        for work in batch:
            found = merged.get(work.document.id)
            if found is None:
                continue
            with run.timed("resolve"):
                try:
                    graph = self.assembler.run(work.document, work.chunks, found, store)
                except PipelineError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one document's failure is reported
                    run.fail(work.document.source, "resolve", reason(exc))
                    continue
            assembled.append(AssembledDocument(work=work, graph=graph))

        size = self.writer.batch_size
        for begin in range(0, len(assembled), size):
            group = assembled[begin : begin + size]
            self._embed_chunks(group, store, run)
            with run.timed("write"):
                written = self.writer.run(group, store)
            self._record_written(written, run)
        progress.advance("write", len(assembled))

    @staticmethod
    def _record_written(written: WrittenBatch, run: IngestRun) -> None:
        for failure in written.failures:
            run.fail(failure.source, failure.stage, failure.reason)
        counts = run.summary.documents
        for doc in written.written:
            work, graph = doc.work, doc.graph
            setattr(counts, work.status, getattr(counts, work.status) + 1)
            run.summary.chunks += len(graph.chunks)
            run.summary.mentions += len(graph.mentions)
            run.summary.tokens += work.tokens
            run.summary.characters += len(graph.document.text)
            run.entity_ids.update(e.id for e in graph.entities)
            run.relation_ids.update(r.id for r in graph.relations)

    def handle_deleted(
        self,
        store: GraphStore,
        gone: Iterable[DocumentState],
        failed_sources: list[str],
        run: IngestRun,
    ) -> None:
        """Report (and with ``config.prune``, remove) stored documents not in the input.

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

    def finish(self, store: GraphStore, run: IngestRun) -> IngestSummary:
        """Close a run: totals, graph counts, the summary."""
        from kgbuild.pipeline.overrides import warn_unused_names

        resolver = self.resolver
        warn_unused_names(
            store,
            resolver.overrides,
            resolver.name_kind,
            str(self.config.overrides) if isinstance(self.config.overrides, Path) else "",
        )
        self._finish_embeddings(store, run)
        run.summary.entities = len(run.entity_ids)
        run.summary.relations = len(run.relation_ids)
        run.summary.graph = store.counts()
        run.summary.seconds.total = time.perf_counter() - run.started
        logger.info("ingest finished\n%s", run.summary.render())
        return run.summary

    # -- search vectors (kgbuild.search.embeddings, with config.embeddings): three hooks ----

    def _start_embeddings(self) -> IngestEmbedder | None:
        """The run's embedder when embeddings are on (imported only then: a run without
        them loads nothing of kgbuild.search)."""
        if not self.config.embeddings:
            return None
        from kgbuild.search.embeddings import IngestEmbedder, embeddings_enabled

        return IngestEmbedder() if embeddings_enabled(self.config.embeddings) else None

    @staticmethod
    def _embed_chunks(group: list[AssembledDocument], store: GraphStore, run: IngestRun) -> None:
        """Vectors on the chunks of a batch about to be written (in the same write)."""
        if run.embedder is None or not group:
            return
        with run.timed("embed"):
            stored = [d.graph.document.id for d in group if d.work.status != "new"]
            run.embedder.embed_chunks(store, [d.graph for d in group], stored)

    @staticmethod
    def _finish_embeddings(store: GraphStore, run: IngestRun) -> None:
        """Vectors of stored chunks that have none, of the entities this run touched,
        and of any entity left stale (deletions)."""
        if run.embedder is None:
            return
        with run.timed("embed"):  # also after a run that changed nothing: an earlier,
            run.embedder.backfill_chunks(store)  # interrupted one, or one without
            run.embedder.refresh_entities(store)  # embeddings, may have left some behind


# -- helpers --------------------------------------------------------------------------------


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


def reason(exc: BaseException) -> str:
    """An exception as a failure's one-line reason."""
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
