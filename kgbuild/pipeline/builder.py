"""The ingestion pipeline: documents in, a provenance-rich knowledge graph out.

:class:`KnowledgeGraphBuilder` wires the stages together and streams documents
through them, so memory holds one batch at a time, whatever the collection size::

    load (kgbuild.ingest.loaders)     files -> Document, or LoadFailure
      -> plan                         compare with the store's document states; skip unchanged
      -> chunk (kgbuild.ingest.chunker)   token-budgeted by the extractor
      -> extract (kgbuild.pipeline.extraction)  batches of chunks from several documents
      -> resolve (kgbuild.resolve)    mentions -> entities, per document
      -> assemble relations           mention pairs -> entity pairs, with evidence
      -> write (kgbuild.store)        DocumentGraph batches; one bad document never stops the rest

The stages are components of :mod:`kgbuild.pipeline.stages`, and an engine composes
them: :mod:`kgbuild.pipeline.sequential` in this process (the default), or with
``BuildConfig(engine="ray")`` :mod:`kgbuild.pipeline.ray_engine`, which plans, chunks
and extracts on a Ray cluster and runs the serial tail here, in the same order: the
same graph. The configuration is :class:`~kgbuild.pipeline.config.BuildConfig`.

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
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kgbuild.extract.base import Extractor
from kgbuild.pipeline.config import BuildConfig
from kgbuild.pipeline.extractor_source import load_pipeline_extractor
from kgbuild.pipeline.lock import locked_store
from kgbuild.pipeline.sequential import ingest_sequentially
from kgbuild.pipeline.stages import PipelineError, PipelineStages, chunk_budget, describe_store
from kgbuild.pipeline.summary import IngestSummary
from kgbuild.schema import Schema
from kgbuild.store.base import GraphStore

__all__ = [
    "BuildConfig",
    "KnowledgeGraphBuilder",
    "PipelineError",
    "chunk_budget",
    "describe_store",
]

logger = logging.getLogger(__name__)


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
            # Re-validate: the type names become graph labels. Types given over the
            # default schema replace it, with no default constraints on them.
            base = {} if schema == Schema() else schema.model_dump()
            new_schema = Schema.model_validate({**base, **update})
            config = config.model_copy(update={"schema_": new_schema})
        self.config = config
        self.store = store
        self.model_dir = model_dir
        self.progress = progress
        self._extractor = extractor
        self._stages: PipelineStages | None = None
        self.stop = threading.Event()

    # -- public --------------------------------------------------------------------------

    @property
    def schema(self) -> Schema:
        return self.config.schema

    @property
    def extractor(self) -> Extractor:
        """The extractor, loaded on first use."""
        if self._extractor is None:
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
                from kgbuild.pipeline.ray_engine import ingest_on_ray as engine
            else:
                engine = ingest_sequentially
            return engine(
                self.stages,
                store,
                paths,
                store_name=describe_store(self.store),
                progress=self.progress,
                stop=self.stop,
            )

    @property
    def stages(self) -> PipelineStages:
        """The pipeline's stages for this builder's config and extractor (kept across runs:
        the resolver's cache, warnings given once)."""
        stages = self._stages
        if (
            stages is None
            or stages.config is not self.config
            or stages.extraction.extractor is not self.extractor
        ):
            stages = self._stages = PipelineStages(self.config, self.extractor)
        return stages

    # -- the run -------------------------------------------------------------------------

    @contextmanager
    def _open_store(self) -> Iterator[GraphStore]:
        """The store, open and under its run lock (one ingest at a time per store)."""
        with locked_store(self.store, wait=self.config.lock_wait, on_lost=self.stop.set) as store:
            yield store
