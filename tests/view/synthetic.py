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
                    Entity(
                        id=entity_id, name=name, type=label, aliases=[name], keys=[name.lower()]
                    ),
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


def graph_from_text(
    source: str,
    text: str,
    entities: list[tuple[str, str]],
    relations: list[tuple[int, str, int]],
) -> DocumentGraph:
    """One single-chunk document whose mentions are the first occurrences of given strings.

    ``entities``: ``(surface text, type)``, one mention each (an entity per surface);
    ``relations``: ``(head index, relation type, tail index)`` into ``entities``.
    """
    doc_id = ids.document_id(source)
    chunk = Chunk(
        id=ids.chunk_id(doc_id, 0, len(text)),
        document_id=doc_id,
        index=0,
        start=0,
        end=len(text),
        text=text,
    )
    mentions, nodes = [], []
    for surface, label in entities:
        start = text.index(surface)
        key = surface.casefold()
        entity_id = ids.entity_id(label, key)
        mentions.append(
            Mention(
                id=ids.mention_id(doc_id, start, start + len(surface), label),
                document_id=doc_id,
                chunk_id=chunk.id,
                start=start,
                end=start + len(surface),
                text=surface,
                label=label,
                score=0.9,
                entity_id=entity_id,
                keys=[key],
            )
        )
        nodes.append(
            Entity(
                id=entity_id,
                name=surface,
                type=label,
                aliases=[surface],
                mention_count=1,
                keys=[key],
            )
        )
    edges = []
    for head, relation, tail in relations:
        h, t = mentions[head], mentions[tail]
        edges.append(
            Relation(
                id=ids.relation_id(h.entity_id, relation, t.entity_id),
                head_id=h.entity_id,
                tail_id=t.entity_id,
                type=relation,
                score=0.75,
                evidence=[
                    RelationEvidence(
                        document_id=doc_id,
                        chunk_id=chunk.id,
                        head_mention_id=h.id,
                        tail_mention_id=t.id,
                        score=0.75,
                    )
                ],
            )
        )
    return DocumentGraph(
        document=Document(id=doc_id, source=source, text=text, content_hash=ids.content_hash(text)),
        chunks=[chunk],
        mentions=mentions,
        entities=nodes,
        relations=edges,
    )


#: Entity names that are markup, or break out of attributes and script elements.
HOSTILE_NAMES = [
    ('<img src=x onerror="window.__xss=1;alert(1)">', "person"),
    ('"><script>window.__xss=2;alert(2)</script> Group', "organization"),
    ("</script><svg onload=window.__xss=3>", "location"),
    ('Ann O\'Neil &amp; "Co" <!--', "person"),
]


def hostile_graph() -> DocumentGraph:
    """A document whose text, entity names and source are HTML that must never run."""
    a, b, c, d = (name for name, _ in HOSTILE_NAMES)
    text = (
        f"Report: {a} works for {b} today. "
        f"The firm {b} is located in {c}, they say. "
        f'Later {d} also works for {b} -- see <a href="javascript:alert(4)">this</a>.'
    )
    return graph_from_text(
        "hostile/<b onmouseover=alert(5)>report</b>\"'.txt",
        text,
        HOSTILE_NAMES,
        [(0, "works for", 1), (1, "located in", 2), (3, "works for", 1)],
    )
