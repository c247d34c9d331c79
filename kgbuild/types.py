"""The data that crosses kgbuild's pipeline stages.

Every offset is a character offset into ``Document.text`` (the text kgbuild
extracted and stored), so ``document.text[m.start:m.end] == m.text`` holds for
every mention and chunk, in every backend.

Ids are deterministic (see :mod:`kgbuild.ids`): the same input gives the same
graph on every run and every machine.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: Joins the headings of a section path: "Report > Results > Costs".
SECTION_SEPARATOR = " > "


class Section(_Model):
    """Where a stretch ``text[start:end]`` of a document comes from in the original file.

    ``page`` is the 1-based page of a PDF; ``heading`` the path of section headings
    above it (Markdown, Word), joined with :data:`SECTION_SEPARATOR`. Loaders list a
    document's sections in order, without overlaps; text outside every section has
    neither.
    """

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    page: int | None = Field(default=None, ge=1)
    heading: str | None = None


class Document(_Model):
    """One loaded document: its identity, stored text and content hash."""

    id: str
    source: str = Field(description="Where it came from: a file URI, or 'file.jsonl#<id>'.")
    text: str
    content_hash: str = Field(description="sha256 of the text; decides if a re-ingest is needed.")
    metadata: dict[str, Any] = Field(default_factory=dict)
    sections: list[Section] = Field(
        default_factory=list,
        description="Pages (PDF) or heading paths (Markdown, Word) of stretches of the text, "
        "in order. Chunks and mentions take their page and section from here.",
    )

    def locate(self, offset: int) -> Section | None:
        """The section holding character ``offset`` of the text, or None."""
        return locate_section(self.sections, offset)


def locate_section(sections: list[Section], offset: int) -> Section | None:
    """The section of an ordered, non-overlapping list that holds ``offset``, or None."""
    lo, hi = 0, len(sections)
    while lo < hi:  # first section whose end is past offset
        mid = (lo + hi) // 2
        if sections[mid].end <= offset:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(sections) and sections[lo].start <= offset:
        return sections[lo]
    return None


class Chunk(_Model):
    """A window of a document's text, sized for the extractor."""

    id: str
    document_id: str
    index: int
    start: int
    end: int
    text: str
    page: int | None = Field(default=None, description="PDF page where the chunk starts.")
    page_end: int | None = Field(default=None, description="PDF page where the chunk ends.")
    section: str | None = Field(
        default=None, description="Heading path where the chunk starts (Markdown, Word)."
    )
    embedding: list[float] | None = Field(
        default=None,
        description="Sentence vector of the text (kgbuild.search: all-MiniLM-L6-v2, 384 "
        "floats, unit length), set by the pipeline before writing; None when not embedded.",
    )

    @model_validator(mode="after")
    def _offsets(self) -> Chunk:
        if not 0 <= self.start <= self.end or self.end - self.start != len(self.text):
            raise ValueError(
                f"chunk {self.id}: offsets {self.start}:{self.end} do not fit its text"
            )
        return self


class Mention(_Model):
    """A span of document text that the extractor tagged with an entity type."""

    id: str
    document_id: str
    chunk_id: str
    start: int = Field(description="Character offset into the document text.")
    end: int
    text: str
    label: str = Field(description="Entity type phrase, e.g. 'person'.")
    score: float
    page: int | None = Field(default=None, description="PDF page of the mention (1-based).")
    section: str | None = Field(
        default=None, description="Heading path of the mention's section (Markdown, Word)."
    )
    entity_id: str | None = Field(default=None, description="Set by entity resolution.")
    keys: list[str] = Field(
        default_factory=list,
        description="Set by entity resolution: the alias-index keys this mention's name "
        "gives its entity (stores derive Entity.keys from them).",
    )
    merges: list[str] = Field(
        default_factory=list,
        description="Set by entity resolution: why this mention is in its entity, one JSON "
        "object per decision (rule, source, target, score, evidence; "
        "kgbuild.resolve.MergeDecision.from_json reads them). Empty for a mention whose "
        "name founded its entity. Stores derive Entity.merges from them.",
    )


class Entity(_Model):
    """A resolved entity: one node in the graph, many mentions."""

    id: str
    name: str = Field(
        description="Canonical name. Stores set it to the fullest text of the entity's "
        "mentions (kgbuild.store.base.describe_entity)."
    )
    type: str = Field(description="Entity type phrase, e.g. 'person'.")
    aliases: list[str] = Field(
        default_factory=list, description="Distinct texts of its mentions (sorted, in stores)."
    )
    mention_count: int = 0
    keys: list[str] = Field(
        default_factory=list,
        description="Normalized blocking keys: the alias index (in stores, the union of "
        "its mentions' keys).",
    )


class RelationEvidence(_Model):
    """One place in the text that supports a relation."""

    document_id: str
    chunk_id: str
    head_mention_id: str
    tail_mention_id: str
    score: float


class Relation(_Model):
    """A typed edge between two entities, with every piece of text behind it."""

    id: str
    head_id: str
    tail_id: str
    type: str = Field(description="Relation type phrase, e.g. 'works for'.")
    score: float
    evidence: list[RelationEvidence] = Field(default_factory=list)


class DocumentGraph(_Model):
    """Everything kgbuild derived from one document, ready to be written.

    Stores write a ``DocumentGraph`` so that a document is either fully present
    (its Document node, the commit marker, is written last) or re-done.
    """

    document: Document
    chunks: list[Chunk] = Field(default_factory=list)
    mentions: list[Mention] = Field(default_factory=list)
    entities: list[Entity] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    overrides: str | None = Field(
        default=None,
        description="Fingerprint of the override entries that applied to the document's "
        "names (kgbuild.resolve.overrides); stored on the Document node.",
    )
