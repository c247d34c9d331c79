"""What :func:`kgbuild.search` returns: pydantic models, the same on both stores.

``SearchResults.model_dump_json()`` is what ``kgbuild search --json`` prints:
``{"query": ..., "results": [{"kind", "score", "document", "text", "start", "end",
"entities": [...], "relations": [...], ...}]}``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "EntityRef",
    "Evidence",
    "MentionRef",
    "RelationRef",
    "SearchResult",
    "SearchResults",
    "Subgraph",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityRef(_Model):
    """An entity of the graph."""

    id: str
    name: str
    type: str
    aliases: list[str] = Field(default_factory=list)
    mention_count: int = 0


class MentionRef(_Model):
    """A mention in a hit's chunk: character offsets into the document text."""

    id: str
    text: str
    start: int
    end: int
    label: str
    score: float
    entity_id: str | None = None
    page: int | None = None
    section: str | None = None


class Evidence(_Model):
    """One place in the text behind a relation (mention ids point at its two ends)."""

    document_id: str
    chunk_id: str
    head_mention_id: str
    tail_mention_id: str
    score: float


class RelationRef(_Model):
    """A relation between two entities, with every piece of evidence behind it."""

    id: str
    type: str
    score: float
    head_id: str
    head: str
    tail_id: str
    tail: str
    evidence: list[Evidence] = Field(default_factory=list)


class Subgraph(_Model):
    """The one-hop neighbourhood of a hit's entities (``expand=1``)."""

    entities: list[EntityRef] = Field(default_factory=list)
    relations: list[RelationRef] = Field(default_factory=list)


class SearchResult(_Model):
    """One hit: a chunk, or an entity (shown with the chunk of its strongest mention)."""

    kind: Literal["chunk", "entity"]
    id: str = Field(description="The chunk's or the entity's id.")
    score: float = Field(description="Fused score (reciprocal-rank fusion); higher is better.")
    document: str | None = Field(description="Source of the document, as stored.")
    document_id: str | None
    chunk_id: str | None
    page: int | None = None
    section: str | None = None
    text: str = Field(description="The chunk's text: document.text[start:end].")
    start: int = Field(description="Character offset of the chunk in the document text.")
    end: int
    entities: list[EntityRef] = Field(
        default_factory=list,
        description="For a chunk: the entities mentioned in it; for an entity: itself.",
    )
    mentions: list[MentionRef] = Field(default_factory=list)
    relations: list[RelationRef] = Field(
        default_factory=list,
        description="Relations with evidence in the chunk (for an entity: its own ones).",
    )
    ranks: dict[str, int] = Field(
        default_factory=dict,
        description="1-based rank in each list fused: vector, keyword, graph (expansion).",
    )
    subgraph: Subgraph | None = Field(default=None, description="With expand=1.")


class SearchResults(_Model):
    """The answer to one query."""

    query: str
    results: list[SearchResult] = Field(default_factory=list)
