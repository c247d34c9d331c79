"""Synthetic knowledge graphs of any size, written straight as DocumentGraphs (no extractor).

``synthetic_graphs(5000)`` gives documents mentioning 5,000 entities (every one at least
once, a few many times) linked by about as many relations, each with its evidence, so
the viewer can be tried on a large graph in seconds.
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

TYPES = ("person", "organization", "location")
RELATIONS = {"person": "works for", "organization": "located in", "location": "is part of"}


def entity_name(k: int) -> str:
    return f"{TYPES[k % len(TYPES)].title()} {k:05d}"


def synthetic_graphs(n_entities: int, per_document: int = 50) -> list[DocumentGraph]:
    """Documents whose sentences read "<A> <relation> <B>." for entities A and B.

    Entity ``k`` is the head of one sentence; its tail is entity ``(7k + 1) mod n``, so
    some entities are mentioned once and others several times.
    """
    graphs = []
    for first in range(0, n_entities, per_document):
        source = f"synthetic/doc-{first // per_document:04d}.txt"
        doc_id = ids.document_id(source)
        sentences, pairs = [], []
        for k in range(first, min(first + per_document, n_entities)):
            tail = (7 * k + 1) % n_entities
            relation = RELATIONS[TYPES[k % len(TYPES)]]
            sentences.append(f"{entity_name(k)} {relation} {entity_name(tail)}.")
            pairs.append((k, relation, tail))
        text = " ".join(sentences)
        chunk = Chunk(
            id=ids.chunk_id(doc_id, 0, len(text)),
            document_id=doc_id,
            index=0,
            start=0,
            end=len(text),
            text=text,
        )
        mentions: list[Mention] = []
        entities: dict[str, Entity] = {}
        relations: dict[str, Relation] = {}
        offset = 0
        for sentence, (head, relation, tail) in zip(sentences, pairs, strict=True):
            found = []
            for k, pos in ((head, 0), (tail, sentence.rindex(entity_name(tail)))):
                name, label = entity_name(k), TYPES[k % len(TYPES)]
                start = offset + pos
                entity_id = ids.entity_id(label, name.lower())
                mention = Mention(
                    id=ids.mention_id(doc_id, start, start + len(name), label),
                    document_id=doc_id,
                    chunk_id=chunk.id,
                    start=start,
                    end=start + len(name),
                    text=name,
                    label=label,
                    score=0.9,
                    entity_id=entity_id,
                    keys=[name.lower()],
                )
                mentions.append(mention)
                found.append(mention)
                entity = entities.setdefault(
                    entity_id,
                    Entity(id=entity_id, name=name, type=label, aliases=[name], keys=[name.lower()]),
                )
                entity.mention_count += 1
            h, t = found
            relation_id = ids.relation_id(h.entity_id, relation, t.entity_id)
            rel = relations.setdefault(
                relation_id,
                Relation(
                    id=relation_id,
                    head_id=h.entity_id,
                    tail_id=t.entity_id,
                    type=relation,
                    score=0.8,
                ),
            )
            rel.evidence.append(
                RelationEvidence(
                    document_id=doc_id,
                    chunk_id=chunk.id,
                    head_mention_id=h.id,
                    tail_mention_id=t.id,
                    score=0.8,
                )
            )
            offset += len(sentence) + 1
        graphs.append(
            DocumentGraph(
                document=Document(
                    id=doc_id, source=source, text=text, content_hash=ids.content_hash(text)
                ),
                chunks=[chunk],
                mentions=mentions,
                entities=list(entities.values()),
                relations=list(relations.values()),
            )
        )
    return graphs
