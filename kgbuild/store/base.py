"""The store interface every backend implements, and the graph shape they share.

Graph shape (identical on NetworkX and Neo4j, so the queries in ``cypher/`` run on both)::

    (:Document {id, source, content_hash, text, metadata (JSON string), kgbuild_version,
                model_id, schema_fingerprint, ingested_at, chunk_count})
    (:Chunk {id, document_id, index, start, end, text})-[:PART_OF]->(:Document)
    (:Chunk)-[:NEXT]->(:Chunk)                                  consecutive chunks of a document
    (:Mention {id, document_id, chunk_id, start, end, text, label, score})-[:IN_CHUNK]->(:Chunk)
    (:Mention)-[:REFERS_TO]->(:Entity)
    (:Entity:<TypeLabel> {id, name, type, label, aliases, mention_count, keys})
    (:Entity)-[:<RELATION_TYPE> {id, type, score, evidence_count, document_ids, chunk_ids,
                                  head_mention_ids, tail_mention_ids, evidence_scores}]->(:Entity)

``<TypeLabel>`` is :func:`kgbuild.schema.entity_label` of the entity type ("work of
art" -> ``WorkOfArt``) and ``<RELATION_TYPE>`` is :func:`kgbuild.schema.relation_label`
("works for" -> ``WORKS_FOR``). A relation edge's evidence lists are parallel: entry
``i`` of ``document_ids``, ``chunk_ids``, ``head_mention_ids``, ``tail_mention_ids`` and
``evidence_scores`` describe one piece of evidence. Offsets are characters of
``Document.text``.

Writing a document is all-or-redo: a store first removes whatever an earlier
(possibly interrupted) write of that document left behind, then writes chunks,
mentions, entities and relations, and writes the Document node last. A document
whose node is missing, or whose ``content_hash`` differs, is simply written again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from kgbuild.types import DocumentGraph, Entity


class DocumentState(BaseModel):
    """What the store knows about a document already ingested."""

    id: str
    source: str
    content_hash: str
    model_id: str | None = None
    schema_fingerprint: str | None = None


class StoreError(RuntimeError):
    """A store operation failed for good (after retries); the message names what failed."""


class GraphStore(ABC):
    """A knowledge-graph backend. Use as a context manager to open and close it."""

    #: Recorded on documents; set by the pipeline before writing.
    model_id: str | None = None
    schema_fingerprint: str | None = None

    def __enter__(self) -> GraphStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:  # noqa: B027 - optional hook
        """Connect / load; check the connection with a clear error."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""

    @abstractmethod
    def setup_schema(self) -> None:
        """Create constraints and indexes (idempotent)."""

    @abstractmethod
    def document_states(self) -> dict[str, DocumentState]:
        """Every fully written document, by id: the ingestion state lives in the store."""

    @abstractmethod
    def write_documents(self, graphs: Iterable[DocumentGraph]) -> None:
        """Replace each document's previous evidence and write its graph (see module doc)."""

    @abstractmethod
    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Remove documents with their chunks, mentions and relation evidence.

        Entities and relations left without evidence are removed; the rest stay,
        with ``mention_count`` and evidence lists updated.
        """

    @abstractmethod
    def find_entities(self, keys: Iterable[str]) -> list[Entity]:
        """Entities whose alias index (``Entity.keys``) holds any of ``keys``."""

    @abstractmethod
    def query(self, cypher: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts of column -> value."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Numbers of documents, chunks, mentions, entities and relations."""
