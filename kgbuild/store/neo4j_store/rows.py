"""DocumentGraphs checked and planned into the rows of ``UNWIND`` statements, and the
conversions between driver values and plain Python that the Neo4j store shares.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction
from neo4j.graph import Node, Path, Relationship

from kgbuild.schema import entity_label, relation_label
from kgbuild.store.base import (
    EntityDescription,
    check_document_graph,
    describe_entity,
    mention_name_key,
    mention_short_key,
)
from kgbuild.store.neo4j_store.cypher import (
    _DESCRIBE_ENTITIES,
    _SET_DESCRIPTIONS,
    EVIDENCE_FIELDS,
    _quote,
)
from kgbuild.types import DocumentGraph

logger = logging.getLogger(__name__)


def _union(*lists: Iterable[str]) -> list[str]:
    """Items of all lists without repeats, in first-seen order."""
    return list(dict.fromkeys(item for items in lists for item in items))


def _plain(value: Any) -> Any:
    """A driver value as plain Python: nodes and relationships become dicts of properties."""
    if isinstance(value, Node | Relationship):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return [_plain(n) for n in value.nodes]
    if hasattr(value, "iso_format"):  # neo4j.time Date / DateTime / Duration (a tuple)
        return value.iso_format()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# ----------------------------------------------------------------------------------------
# Checking and planning: DocumentGraphs -> rows grouped by label / type
# ----------------------------------------------------------------------------------------


@dataclass
class _Checked:
    """A DocumentGraph that passed the checks, with what writing it needs."""

    graph: DocumentGraph
    entity_labels: dict[str, str]  # entity id -> node label
    relation_types: dict[str, str]  # relation id -> relationship type
    external_entities: set[str]  # entity ids it points at but does not carry

    @property
    def id(self) -> str:
        return self.graph.document.id

    def size(self) -> int:
        g = self.graph
        return len(g.chunks) + len(g.mentions) + len(g.entities) + len(g.relations)


def _check(graph: DocumentGraph) -> _Checked:
    """Check a DocumentGraph before anything is written; ``ValueError`` names the document.

    Type names must map to safe labels (:class:`InvalidTypeName`), chunks and mentions
    must belong to the document, and relation evidence of the document must name its
    chunks and mentions, one of them referring to the relation's head or tail.
    """
    where = check_document_graph(graph)
    entity_labels = {e.id: entity_label(e.type) for e in graph.entities}
    relation_types = {r.id: relation_label(r.type) for r in graph.relations}
    for name in (*entity_labels.values(), *relation_types.values()):
        _quote(name)
    mentions = {m.id: m for m in graph.mentions}
    referenced = {m.entity_id for m in graph.mentions if m.entity_id is not None}
    for relation in graph.relations:
        referenced |= {relation.head_id, relation.tail_id}
        ends = {relation.head_id, relation.tail_id}
        for ev in relation.evidence:
            if ev.document_id != graph.document.id:
                continue  # ignored when written, as by the NetworkX store
            head, tail = mentions[ev.head_mention_id], mentions[ev.tail_mention_id]
            if not {head.entity_id, tail.entity_id} & ends:
                raise ValueError(
                    f"{where}: evidence of relation {relation.id} names mentions that refer "
                    "to neither its head nor its tail entity"
                )
    return _Checked(
        graph=graph,
        entity_labels=entity_labels,
        relation_types=relation_types,
        external_entities=referenced - set(entity_labels),
    )


@dataclass
class _Plan:
    """The rows of one group of documents, ready for UNWIND."""

    document_ids: list[str] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    next_links: list[dict[str, str]] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)
    entities: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # label -> id
    links: list[dict[str, str]] = field(default_factory=list)  # mention -> entity
    relations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # type -> id
    documents: list[dict[str, Any]] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    """Mentions a re-write found stored exactly as they are here (same chunk, entity and
    properties): nothing of them is written again."""
    described: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each entity's row as created if new (:func:`_described`), by id; see prepare."""
    new_relation_props: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each relation edge's properties if not stored yet, by id; see prepare."""

    def prepare(self) -> None:
        """Compute ahead what writing needs if entities and edges are new (no kept
        mentions, no stored evidence), so that the write does not wait for it."""
        links: dict[str, list[dict[str, str]]] = {}
        for link in self.links:
            links.setdefault(link["entity_id"], []).append(link)
        mention_props = {m["id"]: m["props"] for m in self.mentions}
        self.described = {
            eid: _described(row, links.get(eid, ()), mention_props)
            for rows in self.entities.values()
            for eid, row in rows.items()
        }
        replaced = set(self.document_ids)
        self.new_relation_props = {
            rid: _relation_props(row, None, replaced)
            for rows in self.relations.values()
            for rid, row in rows.items()
        }

    def size(self) -> int:
        return (
            len(self.chunks)
            + len(self.mentions)
            + sum(len(v) for v in self.entities.values())
            + sum(len(v) for v in self.relations.values())
        )

    def add(self, checked: _Checked, document_props: dict[str, Any]) -> None:
        """Add one document's rows; ids shared with earlier documents merge as if written
        one after the other (names: the last; aliases, keys, evidence: all)."""
        graph, doc_id = checked.graph, checked.id
        self.document_ids.append(doc_id)
        chunks = sorted(graph.chunks, key=lambda c: c.index)
        self.chunks += [
            {"id": c.id, "props": c.model_dump(exclude={"id"}, exclude_none=True)} for c in chunks
        ]
        self.next_links += [
            {"first": a.id, "second": b.id} for a, b in zip(chunks, chunks[1:], strict=False)
        ]
        for m in graph.mentions:
            props = m.model_dump(exclude={"id", "entity_id"}, exclude_none=True)
            name_key = mention_name_key(m.keys)
            if name_key is not None:
                props["name_key"] = name_key
            short_key = mention_short_key(m.keys)
            if short_key is not None:
                props["short_key"] = short_key
            self.mentions.append({"id": m.id, "props": props})
            if m.entity_id is not None:
                self.links.append({"mention_id": m.id, "entity_id": m.entity_id})

        for entity in graph.entities:
            label = checked.entity_labels[entity.id]
            row = self.entities.setdefault(label, {}).get(entity.id)
            if row is None:
                self.entities[label][entity.id] = {
                    "id": entity.id,
                    "name": entity.name,
                    "type": entity.type,
                    "label": label,
                    "aliases": _union(entity.aliases),
                    "keys": _union(entity.keys),
                }
            else:
                row["name"] = entity.name
                row["aliases"] = _union(row["aliases"], entity.aliases)
                row["keys"] = _union(row["keys"], entity.keys)

        for relation in graph.relations:
            # Only the document's own evidence is written (as by the NetworkX store).
            evidence = [
                (e.document_id, e.chunk_id, e.head_mention_id, e.tail_mention_id, e.score)
                for e in relation.evidence
                if e.document_id == doc_id
            ]
            if not evidence:
                logger.warning(
                    "relation %s has no evidence in document %s: not written", relation.id, doc_id
                )
                continue
            rel_type = checked.relation_types[relation.id]
            row = self.relations.setdefault(rel_type, {}).setdefault(
                relation.id,
                {
                    "id": relation.id,
                    "head_id": relation.head_id,
                    "tail_id": relation.tail_id,
                    "type": relation.type,
                    "evidence": [],
                },
            )
            row["evidence"] += evidence

        self.documents.append({"id": doc_id, "props": document_props})


def _relation_props(
    row: dict[str, Any], old: dict[str, Any] | None, replaced: set[str]
) -> dict[str, Any]:
    """A relation edge's properties: its type and merged evidence (:func:`_merge_evidence`)."""
    return {"type": row["type"], **_merge_evidence(old, row["evidence"], replaced)}


def _merge_evidence(
    old: dict[str, Any] | None, new: list[tuple], replaced: set[str]
) -> dict[str, Any]:
    """A relation edge's properties from its stored evidence and this group's evidence.

    Stored entries of the documents being written (``replaced``) are dropped, so writing
    twice never duplicates evidence. Entries are grouped by document, documents in id
    order, each document's entries in the order its graph gave them: the lists come out
    the same whatever order documents are written in (as in the NetworkX store).
    """
    entries = []
    if old is not None:
        stored = zip(*(old[f] or [] for f in EVIDENCE_FIELDS), strict=True)
        entries = [e for e in stored if e[0] not in replaced]
    entries = sorted(entries + new, key=lambda e: e[0])  # stable within a document
    props: dict[str, Any] = {f: [e[i] for e in entries] for i, f in enumerate(EVIDENCE_FIELDS)}
    props["score"] = max(props["evidence_scores"])
    props["evidence_count"] = len(entries)
    return props


def _refresh_entities(
    tx: ManagedTransaction,
    ids: Sequence[str],
    fallback: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Set the mention count, name, aliases and keys of entities from their mentions.

    Entities no mention refers to keep what they have (or, if in ``fallback``, the rows
    they were created from) and are returned as ``{"id", "keys"}`` for the caller to
    delete or keep.
    """
    fallback_by_id = {r["id"]: r for r in fallback}
    rows, unmentioned = [], []
    for rec in tx.run(_DESCRIBE_ENTITIES, ids=list(ids)):
        entity_id, old_keys = rec["id"], list(rec["old_keys"])
        forms = rec["forms"]
        described = describe_entity(
            {f["text"]: f["n"] for f in forms},
            (keys for f in forms for keys in f["key_lists"]),
            (merges or () for f in forms for merges in f["merge_lists"]),
        )
        if described is None:
            row = fallback_by_id.get(entity_id)
            if row is None:
                unmentioned.append({"id": entity_id, "keys": old_keys})
                continue
            described = EntityDescription(
                row["name"], row["aliases"], row["keys"], row.get("merges", [])
            )
        rows.append({"id": entity_id, "n": rec["n"], **described._asdict()})
    tx.run(_SET_DESCRIPTIONS, rows=rows).consume()
    return unmentioned


def _records(result: Any) -> list[dict[str, Any]]:
    """A result's records as dicts, for queries returning plain values (numbers, strings,
    lists, maps; no nodes or relationships). ``Result.data()`` gives the same, but walks
    every value in Python to convert graph objects: most of a re-write's time."""
    return [dict(record.items()) for record in result]


def _run_rows(tx: ManagedTransaction, query: str, rows: Sequence[Any]) -> None:
    """``UNWIND $rows`` statement, not sent at all when there are no rows."""
    if rows:
        tx.run(query, rows=rows).consume()


def _count_rows(tx: ManagedTransaction, query: str, rows: Sequence[Any]) -> int:
    """Like :func:`_run_rows` for a statement that returns ``n``: the rows it wrote."""
    return tx.run(query, rows=rows).single()["n"] if rows else 0


def _described(
    row: dict[str, Any], links: Iterable[dict[str, str]], mention_props: dict[str, dict]
) -> dict[str, Any]:
    """A new entity's row with what its mentions (all in this group) say about it: the
    same :func:`describe_entity` the refresh of a stored entity runs on the server's data."""
    texts: dict[str, int] = {}
    key_lists, merge_lists = [], []
    for link in links:
        props = mention_props.get(link["mention_id"])
        if props is not None:
            texts[props["text"]] = texts.get(props["text"], 0) + 1
            key_lists.append(props.get("keys") or ())
            merge_lists.append(props.get("merges") or ())
    described = describe_entity(texts, key_lists, merge_lists)
    if described is None:  # no mention (yet): the entity as the graph gave it
        return {"merges": [], **row, "n": 0}
    return {**row, **described._asdict(), "n": sum(texts.values())}


def _name_ids(ids: Sequence[str], shown: int = 5) -> str:
    head = ", ".join(ids[:shown])
    return f"documents {head}" + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
