"""The assemble stage: one document's extraction -> its graph, entities resolved.

:class:`AssembleStage` turns what the extractor found in a document (entities at
document offsets, relations between them; see :mod:`kgbuild.pipeline.extraction`) into
a :class:`~kgbuild.types.DocumentGraph`: mentions with their chunk, page and section,
entities resolved against each other and against the store
(:class:`~kgbuild.resolve.EntityResolver`), and relations between entities with the
evidence of each mention pair. Types that cannot become graph labels and relations the
schema's constraints forbid are left out here, never written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kgbuild.ids import mention_id, relation_id
from kgbuild.pipeline.extraction import DocumentExtraction
from kgbuild.resolve.config import ResolverConfig
from kgbuild.schema import InvalidTypeName, Schema, entity_label, relation_label
from kgbuild.store.base import GraphStore
from kgbuild.types import Chunk, Document, DocumentGraph, Mention, Relation, RelationEvidence

if TYPE_CHECKING:
    from kgbuild.resolve import EntityResolver

__all__ = ["AssembleStage", "PipelineError"]

logger = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """An internal inconsistency (a bug, not bad input): the run stops."""


class AssembleStage:
    """Mentions, resolved entities and relations of one document, as a DocumentGraph.

    Holds the entity resolver, whose cache of stored entities lives across the documents
    of a run (:meth:`prefetch` fills it for a batch; ``resolver.reset()`` starts a run).
    """

    def __init__(self, schema: Schema, resolver: ResolverConfig) -> None:
        self.schema = schema
        self.resolver_config = resolver
        self._resolver: EntityResolver | None = None
        self._types: tuple[set[str], set[str]] | None = None

    @property
    def resolver(self) -> EntityResolver:
        """The entity resolver (imported and built on first use)."""
        if self._resolver is None:
            from kgbuild.resolve import EntityResolver

            self._resolver = EntityResolver(self.resolver_config)
        return self._resolver

    def prefetch(self, found: Iterable[DocumentExtraction], store: GraphStore) -> None:
        """One alias-index lookup for the entities of a batch instead of one per document."""
        self.resolver.prefetch(((e.text, e.label) for f in found for e in f.entities), store)

    def run(
        self,
        document: Document,
        chunks: list[Chunk],
        found: DocumentExtraction,
        store: GraphStore,
    ) -> DocumentGraph:
        """Raises :class:`PipelineError` when a mention is not the text at its offsets."""
        doc = document
        entity_types, relation_types = self.writable_types()
        symmetric = set(self.schema.symmetric_relations)
        constraints = self.schema.relation_constraints

        mentions: list[Mention | None] = []
        for ent, chunk_index in zip(found.entities, found.entity_chunks, strict=True):
            if ent.label not in entity_types:
                logger.debug("%s: dropping entity of unknown type %r", doc.id, ent.label)
                mentions.append(None)
                continue
            place = doc.locate(ent.start)
            mentions.append(
                Mention(
                    id=mention_id(doc.id, ent.start, ent.end, ent.label),
                    document_id=doc.id,
                    chunk_id=chunks[chunk_index].id,
                    start=ent.start,
                    end=ent.end,
                    text=ent.text,
                    label=ent.label,
                    score=ent.score,
                    page=place.page if place else None,
                    section=place.heading if place else None,
                )
            )
        kept = [m for m in mentions if m is not None]
        for m in kept:
            if doc.text[m.start : m.end] != m.text:
                raise PipelineError(
                    f"internal error: mention {m.text!r} at {m.start}:{m.end} of {doc.source} "
                    f"does not match the document text {doc.text[m.start : m.end]!r}"
                )

        # Relations between kept mentions: neighbours, evidence for short forms.
        position = {id(m): i for i, m in enumerate(kept)}
        related = [
            (position[id(head)], position[id(tail)])
            for r in found.relations
            if (head := mentions[r.head]) is not None and (tail := mentions[r.tail]) is not None
        ]
        resolved = self.resolver.resolve_document(kept, store, related)
        entity_of = {m.id: m.entity_id for m in resolved.mentions}

        relations: dict[str, Relation] = {}
        for r in found.relations:
            head, tail = mentions[r.head], mentions[r.tail]
            if head is None or tail is None or r.label not in relation_types:
                continue
            rule = constraints.get(r.label)
            if rule is not None and not rule.permits(head.label, tail.label, r.label in symmetric):
                continue  # the schema does not allow this relation between these types
            head_id, tail_id = entity_of.get(head.id), entity_of.get(tail.id)
            if head_id is None or tail_id is None or head_id == tail_id:
                continue  # unresolved, or a relation of an entity to itself
            if r.label in symmetric and tail_id < head_id:
                head_id, tail_id, head, tail = tail_id, head_id, tail, head
            rid = relation_id(head_id, r.label, tail_id)
            evidence = RelationEvidence(
                document_id=doc.id,
                chunk_id=chunks[r.chunk_index].id,
                head_mention_id=head.id,
                tail_mention_id=tail.id,
                score=r.score,
            )
            rel = relations.get(rid)
            if rel is None:
                relations[rid] = Relation(
                    id=rid,
                    head_id=head_id,
                    tail_id=tail_id,
                    type=r.label,
                    score=r.score,
                    evidence=[evidence],
                )
            else:
                rel.evidence.append(evidence)
                rel.score = max(rel.score, r.score)

        return DocumentGraph(
            document=doc,
            chunks=chunks,
            mentions=list(resolved.mentions),
            entities=list(resolved.entities),
            relations=[relations[k] for k in sorted(relations)],
            overrides=resolved.overrides,
        )

    def writable_types(self) -> tuple[set[str], set[str]]:
        """The schema's types that can become graph labels (checked once, warned once).

        A type that maps to a reserved or invalid label would make every document that
        uses it fail to write; its entities or relations are left out instead, with a
        warning naming the type.
        """
        if self._types is None:
            ok_entities, ok_relations = set(), set()
            for phrase in self.schema.entity_types:
                try:
                    entity_label(phrase)
                    ok_entities.add(phrase)
                except InvalidTypeName as exc:
                    logger.warning("%s: its entities are not written; rename the type", exc)
            for phrase in self.schema.relation_types:
                try:
                    relation_label(phrase)
                    ok_relations.add(phrase)
                except InvalidTypeName as exc:
                    logger.warning("%s: its relations are not written; rename the type", exc)
            self._types = (ok_entities, ok_relations)
        return self._types
