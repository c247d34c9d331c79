"""One-call entry points: :func:`build` a graph from files, :func:`extract_text` from a string.

Both load the default extractor (the model shipped with kgbuild) unless given
one. The environment variable ``KGBUILD_EXTRACTOR`` replaces the default with
any class that follows :class:`~kgbuild.extract.base.Extractor`, named as
``package.module:Class`` or ``path/to/file.py:Class`` (the CLI honours it too;
the test suite uses it to run the CLI with ``tests/fake_extractor.py``)::

    KGBUILD_EXTRACTOR=tests/fake_extractor.py:FakeExtractor kgbuild ingest docs/ --store g.json
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.extract.base import Extractor
from kgbuild.extract.options import ExtractorOptions
from kgbuild.ids import content_hash, document_id
from kgbuild.pipeline.extractor_source import EXTRACTOR_ENV, load_pipeline_extractor
from kgbuild.pipeline.summary import IngestSummary
from kgbuild.types import Document

__all__ = [
    "EXTRACTOR_ENV",
    "EntityResult",
    "RelationResult",
    "TextExtraction",
    "build",
    "extract_text",
    "load_pipeline_extractor",
]

logger = logging.getLogger(__name__)

# -- build ---------------------------------------------------------------------------------


def build(
    paths: str | Path | list[str | Path],
    store: Any = "graph.json",
    **kwargs: Any,
) -> IngestSummary:
    """Build or update a knowledge graph from files and folders in one call.

    Args:
        paths: Files and folders (.txt, .md, .html, .jsonl).
        store: A path ending in ``.json`` (a NetworkX graph saved there), a
            ``bolt://`` / ``neo4j://`` URI, or a :class:`~kgbuild.store.base.GraphStore`.
        **kwargs: Arguments of :class:`~kgbuild.pipeline.builder.KnowledgeGraphBuilder`
            (``entity_types``, ``relation_types``, ``extractor``, ``config``,
            ``model_dir``, ``progress``) and fields of
            :class:`~kgbuild.pipeline.builder.BuildConfig` (``prune=True``,
            ``batch_size=8``, ``entity_threshold=0.6``, ...).

    Example::

        import kgbuild
        summary = kgbuild.build("examples/docs", store="graph.json",
                                entity_types=["person", "organization", "location"],
                                relation_types=["works for", "located in"])
        print(summary.documents.new, summary.entities)
    """
    from kgbuild.pipeline.builder import BuildConfig, KnowledgeGraphBuilder

    builder_args = {
        "entity_types",
        "relation_types",
        "extractor",
        "config",
        "model_dir",
        "progress",
    }
    builder_kwargs = {k: v for k, v in kwargs.items() if k in builder_args}
    config_fields = {k: v for k, v in kwargs.items() if k not in builder_args}
    if config_fields:
        base = builder_kwargs.get("config") or BuildConfig()
        unknown = set(config_fields) - set(BuildConfig.model_fields) - {"schema"}
        if unknown:
            raise TypeError(f"build() got unexpected keyword argument(s): {sorted(unknown)}")
        # Field values as objects (not dumps): nested models given by the user pass as they are.
        data = {name: getattr(base, name) for name in BuildConfig.model_fields}
        if "schema" in config_fields:
            data["schema_"] = config_fields.pop("schema")
        data.update(config_fields)
        builder_kwargs["config"] = BuildConfig.model_validate(data)
    return KnowledgeGraphBuilder(store, **builder_kwargs).ingest(paths)


# -- extract -------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityResult(_Model):
    """An entity found in the text: ``text[start:end] == self.text`` (character offsets)."""

    text: str
    label: str
    start: int
    end: int
    score: float


class RelationResult(_Model):
    """A (head, relation, tail) triplet between two entities of the text."""

    head: EntityResult
    relation: str
    tail: EntityResult
    score: float


class TextExtraction(_Model):
    """What :func:`extract_text` found: entities and (head, relation, tail) relations."""

    entities: list[EntityResult] = Field(default_factory=list)
    relations: list[RelationResult] = Field(default_factory=list)
    model_id: str = ""

    def triplets(self) -> list[tuple[str, str, str]]:
        """Relations as ``(head text, relation, tail text)`` tuples."""
        return [(r.head.text, r.relation, r.tail.text) for r in self.relations]


@lru_cache(maxsize=2)
def _cached_extractor(model_dir: str | None, env_spec: str) -> Extractor:
    # The key includes $KGBUILD_EXTRACTOR so changing it takes effect.
    return load_pipeline_extractor(ExtractorOptions(model=model_dir))


def extract_text(
    text: str,
    entity_types: list[str] | None = None,
    relation_types: list[str] | dict[str, Any] | None = None,
    threshold: float | None = None,
    *,
    relation_threshold: float | None = None,
    extractor: Extractor | None = None,
    model_dir: str | Path | None = None,
    overlap_tokens: int = 32,
) -> TextExtraction:
    """Extract entities and relations from one text, however long.

    A text longer than the model's window is chunked the way the pipeline does
    it (sentence-aware, overlapping); entities found twice in an overlap are
    merged. Offsets are characters of ``text``.

    Args:
        text: The text.
        entity_types: Entity type phrases (default: :data:`kgbuild.schema.DEFAULT_ENTITY_TYPES`).
        relation_types: Relation type phrases (default: the schema's defaults), or an object
            of phrase -> ``{"head": [entity types], "tail": [entity types], "description":
            "..."}`` (or None) to keep only relations between those types and say what the
            relation means (the extractor reads the description beside the name).
        threshold: Minimum entity score (and relation score unless ``relation_threshold``).
        extractor: An extractor to use; default: the shipped model, loaded once per process.
        model_dir: A checkpoint folder (when ``extractor`` is None).

    Example::

        >>> import kgbuild
        >>> out = kgbuild.extract_text("Tim Cook is the CEO of Apple.",   # doctest: +SKIP
        ...                            ["person", "organization"], ["works for"])
        >>> out.triplets()                                                # doctest: +SKIP
        [('Tim Cook', 'works for', 'Apple')]
    """
    from kgbuild.ingest.chunker import ChunkerConfig, chunk_document
    from kgbuild.pipeline.extraction import merge_chunk_extractions, run_extractor
    from kgbuild.pipeline.stages import chunk_budget
    from kgbuild.schema import Schema

    if not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}")
    schema = Schema.model_validate(
        {
            k: v
            for k, v in (("entity_types", entity_types), ("relation_types", relation_types))
            if v is not None
        }
    )
    if extractor is None:
        extractor = _cached_extractor(
            str(model_dir) if model_dir else None, os.environ.get(EXTRACTOR_ENV, "")
        )
    result = TextExtraction(model_id=extractor.model_id)
    if not text.strip():
        return result

    budget, overlap = chunk_budget(
        ChunkerConfig(overlap_tokens=overlap_tokens),
        extractor.max_text_tokens(*schema.prompt_labels()[:2]),
    )
    doc = Document(
        id=document_id("text"), source="text", text=text, content_hash=content_hash(text)
    )
    chunks = chunk_document(doc, extractor.token_spans, budget, overlap)
    found = merge_chunk_extractions(
        chunks,
        run_extractor(
            extractor,
            [c.text for c in chunks],
            schema.entity_types,
            schema.relation_types,
            entity_threshold=threshold,
            relation_threshold=relation_threshold if relation_threshold is not None else threshold,
            descriptions=schema.descriptions,
        ),
    )
    result.entities = [
        EntityResult(text=e.text, label=e.label, start=e.start, end=e.end, score=e.score)
        for e in found.entities
    ]
    relations = found.relations
    if schema.relation_constraints:
        from kgbuild.extract.base import filter_relations

        relations = filter_relations(
            found.entities, relations, schema.relation_constraints, set(schema.symmetric_relations)
        )
    result.relations = [
        RelationResult(
            head=result.entities[r.head],
            relation=r.label,
            tail=result.entities[r.tail],
            score=r.score,
        )
        for r in sorted(relations, key=lambda r: (r.head, r.tail, r.label))
    ]
    return result
