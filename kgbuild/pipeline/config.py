"""What decides what a pipeline run extracts and how: :class:`BuildConfig`.

A module of its own, below the stages (:mod:`kgbuild.pipeline.stages`) and the engines
that read it, so that none of them imports the builder for its configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.extract.options import ExtractorOptions
from kgbuild.ingest.chunker import ChunkerConfig
from kgbuild.ingest.loaders import LoadOptions
from kgbuild.resolve.config import ResolverConfig
from kgbuild.resolve.overrides import Overrides
from kgbuild.schema import Schema

__all__ = ["BuildConfig"]


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
    embeddings: bool = Field(
        default=False,
        description="Give every chunk and entity a sentence vector for kgbuild.search's "
        "vector ranking (kgbuild.search.embeddings). Off by default: it makes ingest "
        "about 1.4x as long (measured); without vectors, search ranks by keywords only. "
        "$KGBUILD_EMBEDDINGS=0 turns it off even when set.",
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
