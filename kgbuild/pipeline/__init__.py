"""The pipeline: load -> chunk -> extract -> resolve -> write, streaming.

* :mod:`kgbuild.pipeline.builder`: :class:`KnowledgeGraphBuilder` and :class:`BuildConfig`.
* :mod:`kgbuild.pipeline.extraction`: chunk results -> document offsets, overlaps merged.
* :mod:`kgbuild.pipeline.summary`: :class:`IngestSummary`, what a run did.
* :mod:`kgbuild.pipeline.api`: the one-call :func:`build` and :func:`extract_text`.
* :mod:`kgbuild.pipeline.ray_engine`: ``engine="ray"``, extraction on a Ray cluster.
"""

from kgbuild.pipeline.api import (
    EntityResult,
    RelationResult,
    TextExtraction,
    build,
    extract_text,
    load_pipeline_extractor,
)
from kgbuild.pipeline.builder import BuildConfig, KnowledgeGraphBuilder, PipelineError
from kgbuild.pipeline.summary import DocumentCounts, DocumentFailure, IngestSummary, StageSeconds

__all__ = [
    "BuildConfig",
    "DocumentCounts",
    "DocumentFailure",
    "EntityResult",
    "IngestSummary",
    "KnowledgeGraphBuilder",
    "PipelineError",
    "RelationResult",
    "StageSeconds",
    "TextExtraction",
    "build",
    "extract_text",
    "load_pipeline_extractor",
]
