"""The extraction stage: run the extractor over chunks and stitch the results into one document.

The extractor sees chunk text and answers with chunk-relative offsets. This
module is the one place where those offsets become document offsets
(``chunk.start`` is added), and where the copies of an entity that two
overlapping chunks both found are merged: the same ``(start, end, label)``
span is one entity, with the best score of its copies.

Both the pipeline (:mod:`kgbuild.pipeline.builder`) and the one-call
:func:`kgbuild.pipeline.api.extract_text` use it, so a long text is handled the
same way in both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kgbuild.extract.base import ExtractedEntity, Extraction, Extractor
from kgbuild.pipeline.entity_checks import drop_implausible_entities
from kgbuild.schema import described_label
from kgbuild.types import Chunk

__all__ = [
    "DocumentExtraction",
    "ExtractionError",
    "FoundRelation",
    "merge_chunk_extractions",
    "run_extractor",
]

logger = logging.getLogger(__name__)


class ExtractionError(RuntimeError):
    """An internal inconsistency: an extractor answer that does not fit its input text."""


@dataclass(frozen=True)
class FoundRelation:
    """One relation found in one chunk, between two entities of a :class:`DocumentExtraction`."""

    head: int  # index into DocumentExtraction.entities
    tail: int
    label: str
    score: float
    chunk_index: int  # index into the chunks given to merge_chunk_extractions


@dataclass
class DocumentExtraction:
    """Entities (document offsets, overlaps merged) and the relations between them.

    ``entity_chunks[i]`` is the index of the chunk where the best-scoring copy of
    ``entities[i]`` was found. ``relations`` keeps one entry per (head, tail, label)
    with the best score over all chunks that found it.
    """

    entities: list[ExtractedEntity] = field(default_factory=list)
    entity_chunks: list[int] = field(default_factory=list)
    relations: list[FoundRelation] = field(default_factory=list)


def run_extractor(
    extractor: Extractor,
    texts: Sequence[str],
    entity_types: list[str],
    relation_types: list[str],
    *,
    batch_size: int = 16,
    entity_threshold: float | None = None,
    relation_threshold: float | None = None,
    descriptions: Mapping[str, str] | None = None,
) -> list[Extraction]:
    """Extract from ``texts`` in batches of ``batch_size``; one :class:`Extraction` per text.

    ``descriptions`` (type name -> what it means, :attr:`Schema.descriptions`): the
    extractor reads those types as name and description
    (:func:`~kgbuild.schema.described_label`); what it returns is labelled with the
    type names again.

    Raises:
        ExtractionError: if the extractor returns a different number of results than
            texts, or an entity whose ``text`` is not the span it points at.
    """
    back: dict[str, str] = {}
    if descriptions:
        phrased = {
            t: described_label(t, descriptions.get(t)) for t in (*entity_types, *relation_types)
        }
        back = {label: name for name, label in phrased.items() if label != name}
        entity_types = [phrased[t] for t in entity_types]
        relation_types = [phrased[t] for t in relation_types]
    results: list[Extraction] = []
    for begin in range(0, len(texts), max(1, batch_size)):
        batch = list(texts[begin : begin + batch_size])
        out = extractor.extract(
            batch,
            entity_types,
            relation_types,
            entity_threshold=entity_threshold,
            relation_threshold=relation_threshold,
        )
        if back:
            for extraction in out:
                for item in (*extraction.entities, *extraction.relations):
                    item.label = back.get(item.label, item.label)
        if len(out) != len(batch):
            raise ExtractionError(
                f"extractor {extractor.model_id!r} returned {len(out)} results for "
                f"{len(batch)} texts"
            )
        for text, extraction in zip(batch, out, strict=True):
            _check_offsets(extractor, text, extraction)
        results.extend(drop_implausible_entities(extraction) for extraction in out)
    return results


def _check_offsets(extractor: Extractor, text: str, extraction: Extraction) -> None:
    for e in extraction.entities:
        if not (0 <= e.start < e.end <= len(text)) or text[e.start : e.end] != e.text:
            raise ExtractionError(
                f"extractor {extractor.model_id!r} returned entity {e.text!r} at "
                f"{e.start}:{e.end}, but the text there is {text[e.start : e.end]!r}"
            )
    for r in extraction.relations:
        if not (0 <= r.head < len(extraction.entities) and 0 <= r.tail < len(extraction.entities)):
            raise ExtractionError(
                f"extractor {extractor.model_id!r} returned relation {r.label!r} between "
                f"entities {r.head} and {r.tail} of {len(extraction.entities)}"
            )


def merge_chunk_extractions(
    chunks: Sequence[Chunk], extractions: Sequence[Extraction]
) -> DocumentExtraction:
    """Shift each chunk's entities to document offsets and merge overlapping copies.

    Args:
        chunks: The chunks of one document, in order (``chunk.start`` is the shift).
        extractions: ``extractions[i]`` is what the extractor found in ``chunks[i].text``.

    Returns:
        A :class:`DocumentExtraction` whose entities are sorted by (start, end, label).
        Two copies of a span with the same label (found by two overlapping chunks) become
        one entity with the higher score; a relation found by both is kept once, with its
        best score and the chunk that gave it.
    """
    # (start, end, label) -> (entity with document offsets, chunk index)
    best: dict[tuple[int, int, str], tuple[ExtractedEntity, int]] = {}
    # Per chunk: entity index in that chunk -> span key.
    chunk_keys: list[list[tuple[int, int, str]]] = []
    for ci, (chunk, extraction) in enumerate(zip(chunks, extractions, strict=True)):
        keys = []
        for e in extraction.entities:
            key = (chunk.start + e.start, chunk.start + e.end, e.label)
            keys.append(key)
            kept = best.get(key)
            if kept is None or e.score > kept[0].score:
                shifted = e.model_copy(update={"start": key[0], "end": key[1]})
                best[key] = (shifted, ci)
        chunk_keys.append(keys)

    ordered = sorted(best)
    index = {key: i for i, key in enumerate(ordered)}
    merged = DocumentExtraction(
        entities=[best[k][0] for k in ordered],
        entity_chunks=[best[k][1] for k in ordered],
    )

    relations: dict[tuple[int, int, str], FoundRelation] = {}
    for ci, extraction in enumerate(extractions):
        for r in extraction.relations:
            head, tail = index[chunk_keys[ci][r.head]], index[chunk_keys[ci][r.tail]]
            if head == tail:
                continue
            key = (head, tail, r.label)
            kept = relations.get(key)
            if kept is None or r.score > kept.score:
                relations[key] = FoundRelation(head, tail, r.label, r.score, ci)
    merged.relations = [relations[k] for k in sorted(relations)]
    return merged
