"""The pipeline: load -> chunk -> extract -> resolve -> write, streaming.

* :mod:`kgbuild.pipeline.builder`: :class:`KnowledgeGraphBuilder`, the entry point.
* :mod:`kgbuild.pipeline.config`: :class:`BuildConfig`, what a run extracts and how.
* :mod:`kgbuild.pipeline.stages`: the stages (plan, chunk, extract, assemble, write) with
  typed inputs and outputs, and :class:`PipelineStages`, the steps both engines take.
* :mod:`kgbuild.pipeline.sequential`: the default engine, in this process.
* :mod:`kgbuild.pipeline.ray_engine`: ``engine="ray"``, extraction on a Ray cluster.
* :mod:`kgbuild.pipeline.extraction`: chunk results -> document offsets, overlaps merged.
* :mod:`kgbuild.pipeline.assemble`: one document's extraction -> its graph, resolved.
* :mod:`kgbuild.pipeline.extractor_source`: which extractor a run uses.
* :mod:`kgbuild.pipeline.summary`: :class:`IngestSummary`, what a run did.
* :mod:`kgbuild.pipeline.api`: the one-call :func:`build` and :func:`extract_text`.

Modules import downwards only (config, stages, engines, builder, api; see
``tests/test_imports.py``).
"""

from kgbuild.pipeline.api import (
    EntityResult,
    RelationResult,
    TextExtraction,
    build,
    extract_text,
    load_pipeline_extractor,
)
from kgbuild.pipeline.builder import KnowledgeGraphBuilder
from kgbuild.pipeline.config import BuildConfig
from kgbuild.pipeline.stages import DocumentWork, IngestRun, PipelineError, PipelineStages
from kgbuild.pipeline.summary import DocumentCounts, DocumentFailure, IngestSummary, StageSeconds

__all__ = [
    "BuildConfig",
    "DocumentCounts",
    "DocumentFailure",
    "DocumentWork",
    "EntityResult",
    "IngestRun",
    "IngestSummary",
    "KnowledgeGraphBuilder",
    "PipelineError",
    "PipelineStages",
    "RelationResult",
    "StageSeconds",
    "TextExtraction",
    "build",
    "extract_text",
    "load_pipeline_extractor",
]
