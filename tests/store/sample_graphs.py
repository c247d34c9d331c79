"""Hand-made DocumentGraphs for store tests: two documents that share entities.

Document A ("a.txt")::

    chunk 0: "Alice Smith works for Acme Corp."     Alice -WORKS_FOR-> Acme   (0.9)
    chunk 1: "Acme Corp is located in Paris."       Acme  -LOCATED_IN-> Paris (0.8)

Document B ("b.txt")::

    chunk 0: "Bob Jones works for Acme Corp."       Bob   -WORKS_FOR-> Acme   (0.7)
    chunk 1: "Alice Smith joined Acme."             Alice -WORKS_FOR-> Acme   (0.6)

So Alice and Acme are shared, Paris is only in A, Bob only in B, and Alice -WORKS_FOR->
Acme has evidence from both documents. B also calls Acme "Acme" (an alias and a key).
Mentions carry their keys (as the resolver sets them); stores derive entity names,
aliases and keys from them.
"""

from __future__ import annotations

from kgbuild import ids
from kgbuild.types import (
    Chunk,
    Document,
    DocumentGraph,
    Entity,
    Mention,
    Relation,
    RelationEvidence,
)

#: name -> (type, aliases, keys) of every entity the samples use.
ENTITIES = {
    "Alice Smith": ("person", ["Alice Smith"], ["alice smith"]),
    "Bob Jones": ("person", ["Bob Jones"], ["bob jones"]),
    "Acme Corp": ("organization", ["Acme Corp"], ["acme corp"]),
    "Paris": ("location", ["Paris"], ["paris"]),
}


def entity_id(name: str) -> str:
    entity_type, _, keys = ENTITIES[name]
    return ids.entity_id(entity_type, keys[0])


def relation_id(head: str, relation_type: str, tail: str) -> str:
    return ids.relation_id(entity_id(head), relation_type, entity_id(tail))


def make_document(
    source: str,
    chunk_texts: list[str],
    mentions: list[tuple[int, str] | tuple[int, str, str]],
    relations: list[tuple[int, str, int, float]],
    *,
    metadata: dict | None = None,
    pages: list[int] | None = None,
    headings: list[str] | None = None,
) -> DocumentGraph:
    """Build a consistent DocumentGraph.

    Args:
        chunk_texts: the chunks; the document text is them joined by single spaces.
        mentions: ``(chunk index, entity name[, text])``: the first occurrence of the
            text (default: the name) in that chunk is the mention, resolved to the entity
            of that name; its keys are the entity's, or the lower-cased text if it differs.
        relations: ``(head mention index, relation type, tail mention index, score)``,
            one piece of evidence each, in the head mention's chunk.
        pages: the PDF page of each chunk (its mentions are on that page too).
        headings: the section heading path of each chunk (and its mentions).
    """
    text = " ".join(chunk_texts)
    doc_id = ids.document_id(source)
    chunks, start = [], 0
    for index, chunk_text in enumerate(chunk_texts):
        end = start + len(chunk_text)
        chunks.append(
            Chunk(
                id=ids.chunk_id(doc_id, start, end),
                document_id=doc_id,
                index=index,
                start=start,
                end=end,
                text=chunk_text,
                page=pages[index] if pages else None,
                page_end=pages[index] if pages else None,
                section=headings[index] if headings else None,
            )
        )
        start = end + 1

    mention_objects = []
    for chunk_index, name, *surface in mentions:
        chunk = chunks[chunk_index]
        surface = surface[0] if surface else name
        m_start = chunk.start + chunk.text.index(surface)
        m_end = m_start + len(surface)
        label = ENTITIES[name][0]
        mention_objects.append(
            Mention(
                id=ids.mention_id(doc_id, m_start, m_end, label),
                document_id=doc_id,
                chunk_id=chunk.id,
                start=m_start,
                end=m_end,
                text=text[m_start:m_end],
                label=label,
                score=0.95,
                page=chunk.page,
                section=chunk.section,
                entity_id=entity_id(name),
                keys=ENTITIES[name][2] if surface == name else [surface.lower()],
            )
        )

    entities = []
    for name in dict.fromkeys(m[1] for m in mentions):
        own = [m for m in mention_objects if m.entity_id == entity_id(name)]
        entities.append(
            Entity(
                id=entity_id(name),
                name=name,
                type=ENTITIES[name][0],
                aliases=sorted({m.text for m in own}),
                mention_count=len(own),
                keys=sorted({k for m in own for k in m.keys}),
            )
        )

    relation_objects = []
    for head, relation_type, tail, score in relations:
        head_name, tail_name = mentions[head][1], mentions[tail][1]
        relation_objects.append(
            Relation(
                id=relation_id(head_name, relation_type, tail_name),
                head_id=entity_id(head_name),
                tail_id=entity_id(tail_name),
                type=relation_type,
                score=score,
                evidence=[
                    RelationEvidence(
                        document_id=doc_id,
                        chunk_id=mention_objects[head].chunk_id,
                        head_mention_id=mention_objects[head].id,
                        tail_mention_id=mention_objects[tail].id,
                        score=score,
                    )
                ],
            )
        )

    return DocumentGraph(
        document=Document(
            id=doc_id,
            source=source,
            text=text,
            content_hash=ids.content_hash(text),
            metadata=metadata or {},
        ),
        chunks=chunks,
        mentions=mention_objects,
        entities=entities,
        relations=relation_objects,
    )


def document_a() -> DocumentGraph:
    return make_document(
        "a.txt",
        ["Alice Smith works for Acme Corp.", "Acme Corp is located in Paris."],
        [(0, "Alice Smith"), (0, "Acme Corp"), (1, "Acme Corp"), (1, "Paris")],
        [(0, "works for", 1, 0.9), (2, "located in", 3, 0.8)],
        metadata={"title": "Document A", "year": 2024},
        headings=["People", "People > Places"],
    )


def document_b() -> DocumentGraph:
    return make_document(
        "b.txt",
        ["Bob Jones works for Acme Corp.", "Alice Smith joined Acme."],
        [(0, "Bob Jones"), (0, "Acme Corp"), (1, "Alice Smith"), (1, "Acme Corp", "Acme")],
        [(0, "works for", 1, 0.7), (2, "works for", 3, 0.6)],
        pages=[1, 2],
    )


def sample_graphs() -> list[DocumentGraph]:
    """Documents A and B, in document id order (the order both backends agree on)."""
    return sorted([document_a(), document_b()], key=lambda g: g.document.id)
