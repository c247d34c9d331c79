"""The interface between the pipeline and any extractor.

Chunk text in; entities with character offsets into that text, and relations
between them, out. The pipeline shifts offsets by the chunk's start to get
document offsets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from kgbuild.schema import RelationConstraint


class ExtractedEntity(BaseModel):
    """An entity span found in one text; ``text[start:end] == self.text``."""

    model_config = ConfigDict(extra="forbid")

    start: int
    end: int
    text: str
    label: str
    score: float


class ExtractedRelation(BaseModel):
    """A typed relation between two entities of the same text (indices into ``entities``)."""

    model_config = ConfigDict(extra="forbid")

    head: int
    tail: int
    label: str
    score: float


class Extraction(BaseModel):
    """What an extractor found in one text."""

    model_config = ConfigDict(extra="forbid")

    entities: list[ExtractedEntity] = Field(default_factory=list)
    relations: list[ExtractedRelation] = Field(default_factory=list)

    def triplets(self) -> list[tuple[ExtractedEntity, str, ExtractedEntity]]:
        """(head entity, relation label, tail entity) triplets, as GLiNER-Relex returns them."""
        return [(self.entities[r.head], r.label, self.entities[r.tail]) for r in self.relations]


@runtime_checkable
class Extractor(Protocol):
    """What the pipeline needs from an extractor.

    ``model_id`` is recorded on every document so a model change can trigger
    re-extraction. ``token_spans`` and ``max_text_tokens`` let the chunker size
    chunks so that text plus labels always fits the model's window.
    """

    model_id: str

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (no special tokens)."""
        ...

    def max_text_tokens(self, entity_types: list[str], relation_types: list[str]) -> int:
        """How many text tokens fit in one window beside these labels."""
        ...

    def extract(
        self,
        texts: list[str],
        entity_types: list[str],
        relation_types: list[str],
        *,
        entity_threshold: float | None = None,
        relation_threshold: float | None = None,
    ) -> list[Extraction]:
        """Extract from each text; one :class:`Extraction` per input, in order."""
        ...


def filter_relations(
    entities: Sequence,
    relations: Sequence,
    constraints: Mapping[str, RelationConstraint],
    symmetric: set[str] | frozenset[str] = frozenset(),
) -> list:
    """The relations whose head and tail types the constraints allow.

    Works on anything with ``.label`` (entities) and ``.head``/``.tail``/``.label``
    (relations indexing into ``entities``). A symmetric relation passes when either
    direction is allowed.
    """
    out = []
    for r in relations:
        rule = constraints.get(r.label)
        head, tail = entities[r.head].label, entities[r.tail].label
        if rule is None or rule.permits(head, tail, r.label in symmetric):
            out.append(r)
    return out
