"""The Neo4j backend: the graph shape of :mod:`kgbuild.store.base` on any Bolt server.

Plain Cypher 5 through the official ``neo4j`` driver, nothing else: no APOC (Neo4j
Community lacks it) and no dynamic labels such as ``$(label)`` (some Bolt servers drop
them silently). The same code runs on Neo4j 5 and on the ArcadeDB Bolt server the tests
use (``scripts/test-server``), and it writes the same graph as the NetworkX store
(:mod:`kgbuild.store.networkx_store`), so the queries in ``cypher/`` give the same rows.

How a write works
-----------------
:meth:`Neo4jStore.write_documents` checks each DocumentGraph first (types must map to
safe labels, every id it points at must exist), then collects documents until about
``group_rows`` rows are pending and writes them as one *group* (many documents per group,
so that each statement fills its ``batch_size`` rows even where a document has only a
few rows of a kind, like its chunks):

1. **Clean up** what an earlier, maybe interrupted, write of a document left that its
   new version lacks: its Document node is marked first (content hash emptied, so no
   run takes the document for done), then its evidence goes from relations the new
   version no longer states (relations left without evidence are deleted), then its
   mentions that are gone or moved to another chunk or entity (entities left without
   mentions are deleted, the others are described anew), then its chunks that are gone
   and stale ``NEXT`` edges (:meth:`Neo4jStore._replace_steps`). What stays is updated
   in place, and not written at all when it is stored exactly so: re-writing an
   unchanged document deletes and creates nothing. Pruning a deleted document removes
   everything the same way and the Document node last (:meth:`Neo4jStore._removal_steps`).
   A document the store holds nothing of needs no clean-up. The documents of a group are
   cleaned up together and then written together (a document given twice starts a new
   group); the result is what writing them one at a time gives, since every property
   is a function of the mentions and evidence the store ends up holding.
2. **Write** chunks (+ ``NEXT``), mentions (+ ``IN_CHUNK``), entities (``REFERS_TO``
   from their mentions; ``mention_count``, name, aliases and keys from all the mentions
   the store holds, :func:`kgbuild.store.base.describe_entity`: for a new entity computed
   from the group's mentions before the write, for a stored one re-read), relation
   edges (evidence merged into the parallel lists, grouped by document id; ``score`` is
   the best evidence score), and the Document nodes **last** (+ ``PART_OF`` from their
   chunks).

Every statement is an ``UNWIND $rows AS r ...`` over rows keyed by deterministic ids, run
in a managed transaction (``session.execute_write``) of at most ``batch_size`` rows:
``MERGE`` for chunks and documents; for mentions, entities and relation edges, a lookup
of the batch's ids, then ``CREATE`` for the new ones and ``MATCH ... SET`` for the others,
in the same transaction (faster than ``MERGE`` on both servers, and the relation step
needs the stored evidence anyway). There is no lookup where nothing can be stored yet:
mentions of a document the store held nothing of, relation edges with an end created in
this write. Rows are grouped by entity label and relationship
type; each name comes from :func:`kgbuild.schema.entity_label` /
:func:`kgbuild.schema.relation_label`, is checked against
:data:`kgbuild.schema.SAFE_IDENTIFIER`, and is backtick-quoted into the query text.
Every value is a parameter. Each step is idempotent (running it twice, e.g. after
a commit whose acknowledgement was lost, changes nothing), so transient failures
(``ServiceUnavailable``, ``SessionExpired``, ``TransientError`` such as deadlocks) are
retried with exponential backoff. A group that still fails raises :class:`WriteError`
naming its documents; their Document nodes are not written, so the next ingest sees them
as missing and writes them again, ending with the same graph as a clean run.

Clean-up finds a document's relations through its mentions: evidence names mentions of
its document, and those mentions refer to the relation's head or tail entity (the
pipeline builds relations that way; :meth:`Neo4jStore.write_documents` checks it).

The alias index
---------------
:meth:`Neo4jStore.find_entities` looks entities up by their normalized keys, which every
Entity holds in its ``keys`` list property, as in the NetworkX store. Neither server
indexes list elements (Neo4j's range indexes do not; ArcadeDB's Cypher scans, measured in
``benchmarks/alias_index.py``), so there is no helper node at all: the keys the resolver
asks the store for, the ``n:``/``x:`` keys of names, are found through the indexed
``name_key`` property of the mentions that use the name (one index seek per key, then
``REFERS_TO``); any other key by one pass over the Entity nodes. ``MATCH (n) RETURN
count(n)`` gives the same number on both backends. Earlier versions kept one
``(:_EntityKey {key, entity_ids})`` node per key: :meth:`Neo4jStore.setup_schema`
deletes those and their constraint.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Any

import neo4j
from neo4j import GraphDatabase, ManagedTransaction
from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    ConstraintError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)
from neo4j.graph import Node, Path, Relationship
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from kgbuild.schema import SAFE_IDENTIFIER, InvalidTypeName, entity_label, relation_label
from kgbuild.store.base import (
    NAME_KEY_PREFIXES,
    DocumentState,
    DocumentStateLookup,
    EntityDescription,
    GraphStore,
    StoreError,
    check_document_graph,
    describe_entity,
    document_properties,
    gc_paused,
    mention_name_key,
    read_ahead,
)
from kgbuild.types import DocumentGraph, Entity

__all__ = ["BOLT_SCHEMES", "Neo4jStore", "WriteError", "is_bolt_uri", "schema_statements"]

logger = logging.getLogger(__name__)

#: URI schemes that select this backend.
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
#: Errors worth another try: the server went away, a cluster member changed, a deadlock.
RETRYABLE = (ServiceUnavailable, SessionExpired, TransientError)
#: Where we look an id up and then CREATE, also: another writer created the same entity in
#: between (the next attempt finds it and updates it instead).
RETRYABLE_CREATE = (*RETRYABLE, ConstraintError)
#: Helper label of the alias index of earlier versions, removed by setup_schema().
OLD_KEY_LABEL = "_EntityKey"
#: The parallel evidence lists of a relation edge, in the order of an evidence tuple.
EVIDENCE_FIELDS = (
    "document_ids",
    "chunk_ids",
    "head_mention_ids",
    "tail_mention_ids",
    "evidence_scores",
)


def is_bolt_uri(store: str) -> bool:
    """True if a STORE string names a Bolt server (``bolt://``, ``neo4j://``, ``neo4j+s://``...)."""
    scheme, sep, _ = store.partition("://")
    return bool(sep) and scheme.lower() in BOLT_SCHEMES


class WriteError(StoreError):
    """Writing a group of documents failed for good; ``document_ids`` lists the group.

    None of these documents has its Document node, so a re-run writes them again.
    """

    def __init__(self, message: str, document_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.document_ids = list(document_ids)


def _schema_file() -> FilePath:
    """``cypher/schema.cypher``: inside the package if shipped there, else the checkout's."""
    package = FilePath(__file__).resolve().parents[1]
    candidates = [package / "cypher" / "schema.cypher", package.parent / "cypher" / "schema.cypher"]
    for path in candidates:
        if path.is_file():
            return path
    raise StoreError(f"cannot find the schema file: looked at {', '.join(map(str, candidates))}")


def schema_statements(text: str) -> list[str]:
    """Split a ``.cypher`` file into statements: ``//`` comment lines dropped, split on ``;``."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _quote(name: str) -> str:
    """Backtick-quote a label or relationship type that :mod:`kgbuild.schema` produced.

    Defence in depth: the name must still match SAFE_IDENTIFIER (or be the old helper
    label), so nothing but letters, digits and '_' ever reaches the query text.
    """
    if name != OLD_KEY_LABEL and not SAFE_IDENTIFIER.match(name):
        raise InvalidTypeName(f"refusing to put {name!r} into a query: not a safe identifier")
    return f"`{name}`"


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
# Cypher. Labels and relationship types are filled in with _quote(); values are parameters.
# Note for ArcadeDB: a pattern like (d {id: list[i]}) matches nothing there, so list
# elements are always bound with WITH (or come in as rows) before they are matched.
# ----------------------------------------------------------------------------------------

# Documents are looked up one id at a time (UNWIND): ``x.document_id IN $ids`` scans the
# label on ArcadeDB instead of using the index.
_DOCUMENTS_WITH_STATE = """
UNWIND $ids AS id MATCH (d:Document {id: id}) RETURN d.id AS id
UNION
UNWIND $ids AS id MATCH (c:Chunk {document_id: id}) RETURN DISTINCT c.document_id AS id
UNION
UNWIND $ids AS id MATCH (m:Mention {document_id: id}) RETURN DISTINCT m.document_id AS id
"""

_EXISTING_ENTITIES = "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN e.id AS id"

_DELETE_DOCUMENTS = "UNWIND $ids AS id MATCH (d:Document {id: id}) DETACH DELETE d"

# No real file hashes to '': a run that sees this again re-writes or prunes the document.
_MARK_DOCUMENTS_REMOVING = "UNWIND $ids AS id MATCH (d:Document {id: id}) SET d.content_hash = ''"

# The end of both queries below: drops the evidence of documents $ids from each relation
# r, recomputes its score from the evidence kept, deletes relations left without any.
_STRIP_KEPT = """
WITH r, [i IN range(0, size(r.document_ids) - 1) WHERE NOT r.document_ids[i] IN $ids] AS keep
SET r.document_ids = [i IN keep | r.document_ids[i]],
    r.chunk_ids = [i IN keep | r.chunk_ids[i]],
    r.head_mention_ids = [i IN keep | r.head_mention_ids[i]],
    r.tail_mention_ids = [i IN keep | r.tail_mention_ids[i]],
    r.evidence_scores = [i IN keep | r.evidence_scores[i]]
SET r.evidence_count = size(r.evidence_scores),
    r.score = reduce(best = null, s IN r.evidence_scores |
                     CASE WHEN best IS NULL OR s > best THEN s ELSE best END)
WITH collect(CASE WHEN r.evidence_count = 0 THEN r END) AS empty, count(r) AS touched
FOREACH (x IN empty | DELETE x)
RETURN touched
"""

# Relations holding evidence of the documents, reached through the documents' mentions
# (no scan over all relationships). The score is recomputed from the evidence kept.
_STRIP_EVIDENCE = """
UNWIND $ids AS doc
MATCH (m:Mention {document_id: doc})-[:REFERS_TO]->(:Entity)-[r]-(:Entity)
WHERE any(d IN r.document_ids WHERE d IN $ids)
WITH DISTINCT r LIMIT $limit
""" + _STRIP_KEPT.lstrip("\n")

_MENTION_BATCH = """
UNWIND $ids AS doc
MATCH (m:Mention {document_id: doc})
WITH m LIMIT $limit
OPTIONAL MATCH (m)-[:REFERS_TO]->(e:Entity)
RETURN collect(DISTINCT m.id) AS mention_ids, collect(DISTINCT e.id) AS entity_ids
"""

_DELETE_MENTIONS = "UNWIND $ids AS id MATCH (m:Mention {id: id}) DETACH DELETE m"

# What a document being re-written holds, to remove only what its new version lacks.
_STORED_MENTIONS = """
UNWIND $ids AS doc
MATCH (m:Mention {document_id: doc})
OPTIONAL MATCH (m)-[:REFERS_TO]->(e:Entity)
RETURN m.id AS id, m.chunk_id AS chunk_id, collect(e.id) AS entity_ids, properties(m) AS props
"""

_STORED_CHUNKS = """
UNWIND $ids AS doc
MATCH (c:Chunk {document_id: doc})
OPTIONAL MATCH (c)-[:NEXT]->(n:Chunk)
RETURN c.id AS id, collect(n.id) AS next
"""

_STORED_RELATIONS = """
UNWIND $ids AS doc
MATCH (:Mention {document_id: doc})-[:REFERS_TO]->(:Entity)-[r]-(:Entity)
WHERE doc IN r.document_ids
RETURN DISTINCT r.id AS id, startNode(r).id AS head_id, endNode(r).id AS tail_id
"""

# _STRIP_EVIDENCE for given relations (rows: id, head_id, tail_id).
_STRIP_EVIDENCE_OF = """
UNWIND $rows AS row
MATCH (:Entity {id: row.head_id})-[r]->(:Entity {id: row.tail_id})
WHERE r.id = row.id
WITH DISTINCT r
""" + _STRIP_KEPT.lstrip("\n")

_DELETE_CHUNK_IDS = "UNWIND $ids AS id MATCH (c:Chunk {id: id}) DETACH DELETE c"

_UNLINK_CHUNKS = """
UNWIND $rows AS r
MATCH (:Chunk {id: r.first})-[n:NEXT]->(:Chunk {id: r.second})
DELETE n
"""

# Mention count, texts and keys of entities: what describe_entity() needs (see base).
_DESCRIBE_ENTITIES = """
UNWIND $ids AS id
MATCH (e:Entity {id: id})
OPTIONAL MATCH (e)<-[:REFERS_TO]-(m:Mention)
WITH e, m.text AS text, count(m) AS n, collect(DISTINCT m.keys) AS key_lists
WITH e, sum(n) AS total,
     collect(CASE WHEN n > 0 THEN {text: text, n: n, key_lists: key_lists} END) AS forms
RETURN e.id AS id, total AS n, forms, coalesce(e.keys, []) AS old_keys
"""

_SET_DESCRIPTIONS = """
UNWIND $rows AS r
MATCH (e:Entity {id: r.id})
SET e.mention_count = r.n, e.name = r.name, e.aliases = r.aliases, e.keys = r.keys
"""

_DELETE_ENTITIES = "UNWIND $ids AS id MATCH (e:Entity {id: id}) DETACH DELETE e"

# The alias index. Name keys (n:, x:) through the mentions' indexed name_key; other keys
# by one pass over the entities, each key tested against a map (a list membership test
# per key, ``k IN $list``, was 4x slower on ArcadeDB): neither server indexes list elements.
_ENTITY_COLUMNS = """e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases,
       e.mention_count AS mention_count, e.keys AS keys"""
_FIND_BY_NAME_KEY = f"""
UNWIND $keys AS key
MATCH (:Mention {{name_key: key}})-[:REFERS_TO]->(e:Entity)
RETURN DISTINCT {_ENTITY_COLUMNS}
"""
_FIND_BY_ANY_KEY = f"""
MATCH (e:Entity) WHERE any(k IN e.keys WHERE $keys[k] IS NOT NULL)
RETURN {_ENTITY_COLUMNS}
"""

# Helper nodes of the alias index of earlier versions, removed in batches.
_DROP_OLD_KEYS = f"""
MATCH (k:{_quote(OLD_KEY_LABEL)}) WITH k LIMIT $limit DETACH DELETE k RETURN count(*) AS n
"""

_DELETE_CHUNKS = """
UNWIND $ids AS doc
MATCH (c:Chunk {document_id: doc})
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS n
"""

# ``SET x = props`` (not ``+=``): a chunk or mention kept by a re-write loses a property
# the new version no longer has (a page, a section).
_WRITE_CHUNKS = "UNWIND $rows AS r MERGE (c:Chunk {id: r.id}) SET c = r.props, c.id = r.id"

_LINK_CHUNKS = """
UNWIND $rows AS r
MATCH (a:Chunk {id: r.first}) MATCH (b:Chunk {id: r.second})
MERGE (a)-[:NEXT]->(b)
"""

_EXISTING_MENTIONS = "UNWIND $ids AS id MATCH (m:Mention {id: id}) RETURN m.id AS id"

# A node created in this transaction has no relationships yet, so its edges are CREATEd;
# nodes that existed get MERGE (idempotent when a transaction is retried).
_CREATE_MENTIONS = """
UNWIND $rows AS r
CREATE (m:Mention {id: r.id}) SET m += r.props
WITH m, r
MATCH (c:Chunk {id: r.props.chunk_id})
CREATE (m)-[:IN_CHUNK]->(c)
"""

_UPDATE_MENTIONS = """
UNWIND $rows AS r
MATCH (m:Mention {id: r.id}) SET m = r.props, m.id = r.id
WITH m, r
MATCH (c:Chunk {id: r.props.chunk_id})
MERGE (m)-[:IN_CHUNK]->(c)
"""

_LINK_MENTIONS = """
UNWIND $rows AS r
MATCH (m:Mention {id: r.mention_id}) MATCH (e:Entity {id: r.entity_id})
MERGE (m)-[:REFERS_TO]->(e)
"""

_LINK_NEW_ENTITIES = """
UNWIND $rows AS r
MATCH (m:Mention {id: r.mention_id}) MATCH (e:Entity {id: r.entity_id})
CREATE (m)-[:REFERS_TO]->(e)
"""

_WRITE_DOCUMENTS = """
UNWIND $rows AS r
MERGE (d:Document {id: r.id}) SET d += r.props
WITH d
MATCH (c:Chunk {document_id: d.id})
MERGE (c)-[:PART_OF]->(d)
"""


# Entities and relation edges are written as "look up by id, CREATE the new ones, MATCH and
# SET the others", in one transaction, instead of MERGE: the lookup is needed anyway (to
# merge evidence), and on ArcadeDB a MERGE on two labels (Entity:Person) scans the
# type instead of using the Entity.id index (about 400 rows/s, falling as the graph
# grows, against thousands with the lookup). A node never changes labels, so the two-label
# CREATE is portable; adding a label later (SET e:Person) is not.


# Name, aliases and keys are set from the mentions afterwards (_refresh_entities).
_UPDATE_ENTITIES = """
UNWIND $rows AS r
MATCH (e:Entity {id: r.id})
SET e.type = r.type, e.label = r.label
"""


def _create_entities_query(label: str) -> str:
    # A new entity's mentions are all in the group being written, so its description
    # (describe_entity) is computed before the write and set here at once.
    return f"""
UNWIND $rows AS r
CREATE (e:Entity:{_quote(label)} {{id: r.id}})
SET e.name = r.name, e.type = r.type, e.label = r.label, e.aliases = r.aliases,
    e.keys = r.keys, e.mention_count = r.n
"""


def _read_evidence_query(rel_type: str) -> str:
    return f"""
UNWIND $rows AS r
MATCH (a:Entity {{id: r.head_id}})-[e:{_quote(rel_type)}]->(b:Entity {{id: r.tail_id}})
WHERE e.id = r.id
RETURN e.id AS id, {", ".join(f"e.{f} AS {f}" for f in EVIDENCE_FIELDS)}
"""


def _create_relations_query(rel_type: str) -> str:
    return f"""
UNWIND $rows AS r
MATCH (a:Entity {{id: r.head_id}}) MATCH (b:Entity {{id: r.tail_id}})
CREATE (a)-[e:{_quote(rel_type)} {{id: r.id}}]->(b)
SET e += r.props
RETURN count(e) AS n
"""


def _update_relations_query(rel_type: str) -> str:
    return f"""
UNWIND $rows AS r
MATCH (a:Entity {{id: r.head_id}})-[e:{_quote(rel_type)}]->(b:Entity {{id: r.tail_id}})
WHERE e.id = r.id
SET e += r.props
RETURN count(e) AS n
"""


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
            {f["text"]: f["n"] for f in forms}, (keys for f in forms for keys in f["key_lists"])
        )
        if described is None:
            row = fallback_by_id.get(entity_id)
            if row is None:
                unmentioned.append({"id": entity_id, "keys": old_keys})
                continue
            described = EntityDescription(row["name"], row["aliases"], row["keys"])
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
    key_lists = []
    for link in links:
        props = mention_props.get(link["mention_id"])
        if props is not None:
            texts[props["text"]] = texts.get(props["text"], 0) + 1
            key_lists.append(props.get("keys") or ())
    described = describe_entity(texts, key_lists)
    if described is None:  # no mention (yet): the entity as the graph gave it
        return {**row, "n": 0}
    return {**row, **described._asdict(), "n": sum(texts.values())}


def _name_ids(ids: Sequence[str], shown: int = 5) -> str:
    head = ", ".join(ids[:shown])
    return f"documents {head}" + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


class Neo4jStateLookup(DocumentStateLookup):
    """Document states by id from a Neo4j server, for a worker in another process.

    Carries the connection settings, the password included (the worker connects with
    it), but never shows it: not in ``repr``, not in logs. Connects on the first call,
    with a :class:`Neo4jStore` of its own; a copy made by pickling starts unconnected.
    """

    def __init__(self, uri: str, user: str, password: str | None, database: str | None) -> None:
        self.uri = uri
        self.user = user
        self._password = password
        self.database = database
        self._store: Neo4jStore | None = None

    def __repr__(self) -> str:  # no password here, ever
        return f"Neo4jStateLookup(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}

    def __call__(self, document_ids: Sequence[str]) -> dict[str, DocumentState]:
        if self._store is None:
            store = Neo4jStore(self.uri, self.user, self._password, self.database)
            store.open()
            self._store = store
        return self._store.document_states_for(document_ids)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


# ----------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------


class Neo4jStore(GraphStore):
    """A knowledge graph in Neo4j 5 (or another Bolt server that speaks plain Cypher 5).

    Args:
        uri: ``bolt://``, ``neo4j://`` or ``neo4j+s://`` address of the server.
        user: user name; defaults to ``$NEO4J_USERNAME``, then ``neo4j``.
        password: defaults to ``$NEO4J_PASSWORD``. Never logged nor shown in errors.
        database: defaults to ``$NEO4J_DATABASE``, then the server's default database.
        batch_size: rows per ``UNWIND`` transaction.
        group_rows: about how many rows of documents are written together as one group
            (default: 10 x ``batch_size``); a group that fails is not committed.
        max_retries: further attempts of a transaction after a transient failure.
        retry_wait: first back-off in seconds; it doubles on each attempt ...
        retry_max_wait: ... up to this cap.

    Example::

        with Neo4jStore("bolt://localhost:7687", "neo4j", "secret") as store:
            store.setup_schema()
            store.write_documents(graphs)
            print(store.counts())
    """

    def __init__(
        self,
        uri: str,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        batch_size: int = 1000,
        max_retries: int = 5,
        *,
        group_rows: int | None = None,
        retry_wait: float = 0.5,
        retry_max_wait: float = 10.0,
    ) -> None:
        if not is_bolt_uri(uri):
            raise ValueError(
                f"store {uri!r} is not a Bolt URI: use bolt://, neo4j:// or neo4j+s:// "
                "(e.g. bolt://localhost:7687)"
            )
        if "@" in uri.partition("://")[2].split("/", 1)[0]:
            raise ValueError(
                "put credentials in --user/--password or NEO4J_USERNAME/NEO4J_PASSWORD, "
                "not in the store URI"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.uri = uri
        self.user = user or os.environ.get("NEO4J_USERNAME") or "neo4j"
        self._password = password if password is not None else os.environ.get("NEO4J_PASSWORD")
        self.database = database or os.environ.get("NEO4J_DATABASE") or None
        self.batch_size = batch_size
        self.group_rows = group_rows or 10 * batch_size
        self.max_retries = max_retries
        self.retry_wait = retry_wait
        self.retry_max_wait = retry_max_wait
        self._driver: neo4j.Driver | None = None

    def __repr__(self) -> str:  # no password here, ever
        return f"Neo4jStore(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"

    # -- connection -----------------------------------------------------------------------

    def _where(self) -> str:
        db = f" database {self.database!r}" if self.database else ""
        return f"{self.uri}{db} as user {self.user!r}"

    def _redact(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    def open(self) -> None:
        """Connect and run ``RETURN 1``; raise :class:`StoreError` with a clear cause."""
        if self._driver is not None:
            return
        if not self._password:
            raise StoreError(f"no password for {self._where()}: pass one or set NEO4J_PASSWORD")
        try:
            # The driver's own retry loop is off: tenacity (see _retrying) is the one retry
            # policy, so attempts are bounded, logged and end in a clear error.
            driver = GraphDatabase.driver(
                self.uri, auth=(self.user, self._password), max_transaction_retry_time=0
            )
        except (ConfigurationError, ValueError) as exc:
            raise StoreError(f"invalid Bolt URI {self.uri!r}: {self._redact(str(exc))}") from None
        try:
            driver.verify_connectivity()
            with driver.session(database=self.database) as session:
                session.run("RETURN 1 AS ok").consume()
        except AuthError:
            driver.close()
            raise StoreError(
                f"authentication failed at {self._where()}: wrong user name or password "
                "(check --user/--password or NEO4J_USERNAME/NEO4J_PASSWORD)"
            ) from None
        except ServiceUnavailable as exc:
            driver.close()
            detail = " ".join(line.strip() for line in self._redact(str(exc)).splitlines())
            raise StoreError(
                f"cannot reach a Bolt server at {self.uri}: is it running and is the address "
                f"right? ({detail[:300]})"
            ) from None
        except Neo4jError as exc:
            driver.close()
            if exc.code and "DatabaseNotFound" in exc.code:
                raise StoreError(
                    f"database {self.database!r} does not exist on {self.uri} "
                    "(check --database or NEO4J_DATABASE)"
                ) from None
            raise StoreError(
                f"connection check failed at {self._where()}: {self._redact(str(exc))}"
            ) from None
        except DriverError as exc:
            driver.close()
            raise StoreError(
                f"connection check failed at {self._where()}: {self._redact(str(exc))}"
            ) from None
        self._driver = driver
        logger.info("connected to %s", self._where())

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    @property
    def driver(self) -> neo4j.Driver:
        if self._driver is None:
            raise StoreError("the store is not open: use 'with Neo4jStore(...) as store:'")
        return self._driver

    # -- transactions with retries ----------------------------------------------------------

    def _retrying(self, what: str, retry_on: tuple[type[Exception], ...] = RETRYABLE) -> Retrying:
        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning(
                "%s failed (attempt %d of %d), retrying: %s",
                what,
                state.attempt_number,
                self.max_retries + 1,
                self._redact(f"{type(exc).__name__}: {exc}"),
            )

        return Retrying(
            retry=retry_if_exception_type(retry_on),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential(multiplier=self.retry_wait, max=self.retry_max_wait),
            before_sleep=log_retry,
            reraise=True,
        )

    def _transaction(
        self,
        work: Callable[[ManagedTransaction], Any],
        what: str,
        *,
        write: bool = True,
        retry_on: tuple[type[Exception], ...] = RETRYABLE,
    ) -> Any:
        """Run ``work`` in a managed transaction, retrying transient failures."""
        for attempt in self._retrying(what, retry_on):
            with attempt, self.driver.session(database=self.database) as session:
                run = session.execute_write if write else session.execute_read
                return run(work)
        raise AssertionError("unreachable")  # pragma: no cover - Retrying reraises

    def _write_rows(self, query: str, rows: Sequence[Any], what: str, **parameters: Any) -> None:
        """``UNWIND $rows`` in transactions of ``batch_size`` rows."""
        for batch in _batches(rows, self.batch_size):
            self._transaction(
                lambda tx, b=batch: tx.run(query, rows=b, **parameters).consume(), what
            )

    def _read(self, query: str, what: str, **parameters: Any) -> list[dict[str, Any]]:
        return self._transaction(lambda tx: _records(tx.run(query, parameters)), what, write=False)

    # -- schema -----------------------------------------------------------------------------

    def setup_schema(self) -> None:
        """Run ``cypher/schema.cypher``: constraints and indexes, all ``IF NOT EXISTS``."""
        path = _schema_file()
        for statement in schema_statements(path.read_text(encoding="utf-8")):
            try:
                # Schema commands cannot share a transaction with writes: auto-commit each.
                for attempt in self._retrying("schema set-up"):
                    with attempt, self.driver.session(database=self.database) as session:
                        session.run(statement).consume()
            except (Neo4jError, DriverError) as exc:
                raise StoreError(f"schema statement failed ({path}): {statement}: {exc}") from exc
        self._drop_old_alias_index()
        logger.info("schema ready (%s)", path)

    def _drop_old_alias_index(self) -> None:
        """Delete the ``_EntityKey`` helper nodes (and their constraint) of earlier versions;
        the keys they held are on the Entity nodes (``keys``) already."""
        try:
            with self.driver.session(database=self.database) as session:
                session.run("DROP CONSTRAINT entity_key IF EXISTS").consume()
        except Neo4jError as exc:  # a server without DROP CONSTRAINT: the nodes still go
            logger.debug("dropping the old alias-index constraint: %s", exc)
        deleted = 0
        while n := self._transaction(
            lambda tx: tx.run(_DROP_OLD_KEYS, limit=self.batch_size).single()["n"],
            "removing the old alias index",
        ):
            deleted += n
        if deleted:
            logger.info("removed %d helper nodes of the old alias index (_EntityKey)", deleted)

    # -- writes -----------------------------------------------------------------------------

    def write_documents(self, graphs: Iterable[DocumentGraph]) -> None:
        """Replace each document's previous graph and write the new one.

        Each graph is checked before anything of it is written: a bad one raises
        ``ValueError`` (:class:`~kgbuild.schema.InvalidTypeName` for a type that cannot be
        a label) naming the document, after the documents before it are written. A group
        of documents that fails for good raises :class:`WriteError` naming them; earlier
        groups stay written, later ones are not attempted.
        """
        # Checking the graphs and turning them into rows (Python) runs one group ahead in
        # a thread, while this thread waits for the server to write the group before. No
        # cyclic GC meanwhile (see gc_paused): a write makes many rows and no cycles.
        with gc_paused():
            for pending, plan in read_ahead(self._groups(graphs)):
                self._flush(pending, plan)

    def _groups(self, graphs: Iterable[DocumentGraph]) -> Iterator[tuple[list[_Checked], _Plan]]:
        """Checked documents in groups of about ``group_rows`` rows, each with its rows.

        A graph that fails its check ends the groups: the documents before it come as a
        last group (written as if one by one), then the ``ValueError`` is raised.
        """
        pending: list[_Checked] = []
        rows = 0
        for graph in graphs:
            try:
                checked = _check(graph)
            except ValueError:
                if pending:
                    yield pending, self._plan(pending)
                raise
            pending.append(checked)
            rows += checked.size()
            if rows >= self.group_rows:
                yield pending, self._plan(pending)
                pending, rows = [], 0
        if pending:
            yield pending, self._plan(pending)

    def _plan(self, group: list[_Checked]) -> _Plan:
        """The rows of ``group`` written together (see :meth:`_flush` for when they are)."""
        plan = _Plan()
        for checked in group:
            plan.add(checked, self._document_props(checked.graph))
        plan.prepare()
        return plan

    def _flush(self, pending: list[_Checked], plan: _Plan | None = None) -> None:
        """Write checked documents: new ones in groups, re-written ones one at a time.

        ``plan``: the rows of all of ``pending``, used when they are written as one group.
        """
        if not pending:
            return
        needed = set().union(*(c.external_entities for c in pending))
        known = self._existing_entities(needed)
        for i, checked in enumerate(pending):
            missing = checked.external_entities - known
            if missing:
                self._flush(pending[:i])
                doc = checked.graph.document
                raise ValueError(
                    f"document {doc.id} ({doc.source}): refers to unknown entity "
                    f"{sorted(missing)[0]} (neither in its graph nor in the store)"
                )
            known |= set(checked.entity_labels)

        # Documents the store holds something of (written before, or interrupted) are
        # cleaned up first, all of a group together; a document given twice starts a new
        # group, so the second version replaces the first as if written one by one.
        has_state = self._documents_with_state([c.id for c in pending])
        if len({c.id for c in pending}) < len(pending):
            plan = None  # split into groups below
        group: list[_Checked] = []
        for checked in pending:
            if any(c.id == checked.id for c in group):
                self._write_group(group, [c.id for c in group if c.id in has_state])
                has_state.update(c.id for c in group)
                group = []
            group.append(checked)
        if group:
            self._write_group(group, [c.id for c in group if c.id in has_state], plan)

    def _existing_entities(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        rows = self._read(_EXISTING_ENTITIES, "looking up entities", ids=sorted(ids))
        return {r["id"] for r in rows}

    def _documents_with_state(self, ids: list[str]) -> set[str]:
        rows = self._read(_DOCUMENTS_WITH_STATE, "looking up documents", ids=ids)
        return {r["id"] for r in rows}

    def _document_props(self, graph: DocumentGraph) -> dict[str, Any]:
        return document_properties(
            graph,
            model_id=self.model_id,
            schema_fingerprint=self.schema_fingerprint,
            ingested_at=datetime.now(UTC),
        )

    def _write_group(
        self, group: list[_Checked], clean: list[str], plan: _Plan | None = None
    ) -> None:
        """Write documents together, after removing what the store holds of ``clean``
        (``plan``: their rows, if made already)."""
        if plan is None:
            plan = self._plan(group)
        ids = plan.document_ids
        try:
            if clean:
                for _, step in self._replace_steps(clean, plan):
                    step()
            self._write_rows(_WRITE_CHUNKS, plan.chunks, "writing chunks")
            self._write_rows(_LINK_CHUNKS, plan.next_links, "linking chunks")
            self._write_mentions([m for m in plan.mentions if m["id"] not in plan.kept], clean)
            created = self._write_entities(plan)
            for rel_type, rows in plan.relations.items():
                self._write_relations(
                    rel_type, list(rows.values()), set(ids), created, plan.new_relation_props
                )
            self._write_rows(_WRITE_DOCUMENTS, plan.documents, "writing documents")
        except (Neo4jError, DriverError) as exc:
            raise WriteError(
                f"writing {len(ids)} document(s) failed (transient errors retried up to "
                f"{self.max_retries} times); they are not committed and the next run writes "
                f"them again ({_name_ids(ids)}): {self._redact(f'{type(exc).__name__}: {exc}')}",
                ids,
            ) from exc
        logger.debug("wrote %d document(s), %d rows", len(ids), plan.size())

    def _write_mentions(self, rows: list[dict[str, Any]], clean: Sequence[str] = ()) -> None:
        """Create new mentions, update stored ones. Only mentions of ``clean`` documents
        (those the store held something of) can be stored: the others are not looked up."""
        had_state = set(clean)
        for batch in _batches(rows, self.batch_size):

            def work(tx: ManagedTransaction, b=batch) -> None:
                ids = [r["id"] for r in b if r["props"].get("document_id") in had_state]
                stored = (
                    {rec["id"] for rec in tx.run(_EXISTING_MENTIONS, ids=ids)} if ids else set()
                )
                _run_rows(tx, _CREATE_MENTIONS, [r for r in b if r["id"] not in stored])
                _run_rows(tx, _UPDATE_MENTIONS, [r for r in b if r["id"] in stored])

            self._transaction(work, "writing mentions", retry_on=RETRYABLE_CREATE)

    def _write_entities(self, plan: _Plan) -> set[str]:
        """Write the plan's entities and their REFERS_TO edges; the ids of those created."""
        created: set[str] = set()
        entity_ids = {eid for rows in plan.entities.values() for eid in rows}
        links_by_entity: dict[str, list[dict[str, str]]] = {}
        for link in plan.links:
            if link["mention_id"] not in plan.kept:  # kept: its REFERS_TO is there
                links_by_entity.setdefault(link["entity_id"], []).append(link)
        mention_props = {m["id"]: m["props"] for m in plan.mentions}
        for label, by_id in plan.entities.items():
            create = _create_entities_query(label)
            for batch in _batches(list(by_id.values()), self.batch_size):
                ids = [r["id"] for r in batch]
                links = [link for i in ids for link in links_by_entity.get(i, [])]

                # One transaction per batch: an entity never exists without the REFERS_TO
                # edges through which the clean-up of its documents finds it.
                def work(
                    tx: ManagedTransaction, q=create, b=batch, links=links, ids=ids
                ) -> list[str]:
                    stored = {rec["id"] for rec in tx.run(_EXISTING_ENTITIES, ids=ids)}
                    new = [
                        plan.described[r["id"]]
                        if not plan.kept  # else: described without the kept mentions
                        else _described(r, links_by_entity.get(r["id"], ()), mention_props)
                        for r in b
                        if r["id"] not in stored
                    ]
                    _run_rows(tx, q, new)
                    # A stored entity changes only through mentions linked to it now (those
                    # that left it were counted off when they were removed).
                    stored &= set(links_by_entity)
                    _run_rows(tx, _UPDATE_ENTITIES, [r for r in b if r["id"] in stored])
                    new_links = [link for link in links if link["entity_id"] not in stored]
                    _run_rows(tx, _LINK_NEW_ENTITIES, new_links)
                    old_links = [link for link in links if link["entity_id"] in stored]
                    _run_rows(tx, _LINK_MENTIONS, old_links)
                    old = [i for i in ids if i in stored]  # stored and linked to anew
                    if old:
                        _refresh_entities(tx, old, fallback=b)
                    return [r["id"] for r in new]

                created.update(
                    self._transaction(work, f"writing {label} entities", retry_on=RETRYABLE_CREATE)
                )
        # Mentions resolved to entities the store holds but these graphs do not carry.
        outside = [
            link
            for link in plan.links
            if link["entity_id"] not in entity_ids and link["mention_id"] not in plan.kept
        ]
        for batch in _batches(outside, self.batch_size):

            def relink(tx: ManagedTransaction, b=batch) -> None:
                _run_rows(tx, _LINK_MENTIONS, b)
                _refresh_entities(tx, _union(r["entity_id"] for r in b))

            self._transaction(relink, "linking mentions to existing entities")
        return created

    def _write_relations(
        self,
        rel_type: str,
        rows: list[dict[str, Any]],
        replaced: set[str],
        created: AbstractSet[str] = frozenset(),
        new_props: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Create new relation edges, merge evidence into stored ones. An edge with an end
        among the ``created`` entities (new in this write) cannot be stored: its stored
        evidence is not looked up (on a first ingest, most edges). ``new_props``: the
        properties of edges not stored, by id, if computed already."""
        new_props = new_props or {}
        read = _read_evidence_query(rel_type)
        create, update = _create_relations_query(rel_type), _update_relations_query(rel_type)
        for batch in _batches(rows, self.batch_size):
            # Read and merge the stored evidence in the same transaction as the write, so
            # no other write can slip in between.
            def work(tx: ManagedTransaction, b=batch) -> tuple[int, int]:
                keys = [
                    {"id": r["id"], "head_id": r["head_id"], "tail_id": r["tail_id"]}
                    for r in b
                    if r["head_id"] not in created and r["tail_id"] not in created
                ]
                stored = {r["id"]: r for r in _records(tx.run(read, rows=keys))} if keys else {}
                out = [
                    {
                        "id": r["id"],
                        "head_id": r["head_id"],
                        "tail_id": r["tail_id"],
                        "props": new_props[r["id"]]
                        if r["id"] not in stored and r["id"] in new_props
                        else _relation_props(r, stored.get(r["id"]), replaced),
                    }
                    for r in b
                ]
                new = [r for r in out if r["id"] not in stored]
                old = [
                    r
                    for r in out
                    if r["id"] in stored
                    and any(stored[r["id"]][f] != r["props"][f] for f in EVIDENCE_FIELDS)
                ]  # a relation whose evidence is as stored is left alone
                written = _count_rows(tx, create, new) + _count_rows(tx, update, old)
                return written, len(new) + len(old)

            written, meant = self._transaction(
                work, f"writing {rel_type} relations", retry_on=RETRYABLE_CREATE
            )
            if written < meant:  # cannot happen after _flush's checks; say so if it does
                logger.warning(
                    "%d of %d %s relations not written: head or tail entity missing",
                    meant - written,
                    meant,
                    rel_type,
                )

    # -- removal ----------------------------------------------------------------------------

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Remove documents with their chunks, mentions and relation evidence.

        Entities and relations left without evidence are removed; the rest stay, with
        ``mention_count``, evidence lists and ``score`` updated. Unknown ids are ignored.
        """
        for batch in _batches(_union(document_ids), self.batch_size):
            try:
                self._remove(list(batch))
            except (Neo4jError, DriverError) as exc:
                raise StoreError(
                    f"deleting documents failed ({_name_ids(batch)}): "
                    f"{self._redact(f'{type(exc).__name__}: {exc}')}"
                ) from exc

    def _remove(self, ids: list[str]) -> None:
        """Remove what the store holds of these documents; see :meth:`_removal_steps`."""
        for _, step in self._removal_steps(ids):
            step()

    def _removal_steps(self, ids: list[str]) -> list[tuple[str, Callable[[], None]]]:
        """The transactions that remove documents, in order; each one is idempotent.

        The Document node is the commit marker, so it is *marked* first (its content hash
        emptied: no file matches it) and deleted last. A run killed in between leaves a
        Document node that the next run sees as changed (file still there: re-written) or
        deleted (pruned again), never leftovers that no run knows about.
        """
        limit = self.batch_size

        def loop(query: str, column: str, what: str) -> Callable[[], None]:
            def run() -> None:
                while self._transaction(
                    lambda tx: tx.run(query, ids=ids, limit=limit).single()[column], what
                ):
                    pass

            return run

        def statement(query: str, what: str) -> Callable[[], None]:
            return lambda: self._transaction(lambda tx: tx.run(query, ids=ids).consume(), what)

        def mentions(tx: ManagedTransaction) -> int:
            # Mentions and their entities' counts change in one transaction, so an entity
            # never keeps a count (or survives) without the mentions behind it.
            found = tx.run(_MENTION_BATCH, ids=ids, limit=limit).single()
            if not found["mention_ids"]:
                return 0
            tx.run(_DELETE_MENTIONS, ids=found["mention_ids"]).consume()
            orphans = _refresh_entities(tx, found["entity_ids"])
            if orphans:
                tx.run(_DELETE_ENTITIES, ids=[o["id"] for o in orphans]).consume()
            return len(found["mention_ids"])

        def remove_mentions() -> None:
            while self._transaction(mentions, "removing mentions"):
                pass

        return [
            ("mark documents", statement(_MARK_DOCUMENTS_REMOVING, "marking documents")),
            ("relation evidence", loop(_STRIP_EVIDENCE, "touched", "removing relation evidence")),
            ("mentions", remove_mentions),
            ("chunks", loop(_DELETE_CHUNKS, "n", "removing chunks")),
            ("documents", statement(_DELETE_DOCUMENTS, "removing documents")),
        ]

    def _replace_steps(self, ids: list[str], plan: _Plan) -> list[tuple[str, Callable[[], None]]]:
        """The transactions that make way for new versions of documents the store holds:
        like :meth:`_removal_steps`, but only what the new versions (``plan``) lack goes:
        relation evidence of relations they no longer state, mentions that are gone or
        now sit in another chunk or refer to another entity, chunks that are gone, and
        ``NEXT`` edges between chunks that are no longer consecutive. The rest is
        updated in place by the write, so re-writing an unchanged document deletes and
        re-creates nothing. The Document node is marked first, as for a removal, and
        written last by the write."""
        limit = self.batch_size

        def mark() -> None:
            self._transaction(
                lambda tx: tx.run(_MARK_DOCUMENTS_REMOVING, ids=ids).consume(), "marking documents"
            )

        def evidence() -> None:
            stored = self._read(_STORED_RELATIONS, "reading relation evidence", ids=ids)
            keep = {rid for rows in plan.relations.values() for rid in rows}
            stale = [r for r in stored if r["id"] not in keep]
            for batch in _batches(stale, limit):
                self._transaction(
                    lambda tx, b=batch: tx.run(_STRIP_EVIDENCE_OF, rows=b, ids=ids).consume(),
                    "removing relation evidence",
                )

        def mentions() -> None:
            entity_of = {link["mention_id"]: link["entity_id"] for link in plan.links}
            props_of = {m["id"]: {**m["props"], "id": m["id"]} for m in plan.mentions}
            stale = []
            for m in self._read(_STORED_MENTIONS, "reading mentions", ids=ids):
                new = props_of.get(m["id"])
                if (
                    new is None
                    or m["chunk_id"] != new["chunk_id"]
                    or m["entity_ids"] != ([entity_of[m["id"]]] if m["id"] in entity_of else [])
                ):
                    stale.append(m)
                elif m["props"] == new:
                    plan.kept.add(m["id"])
            for batch in _batches(stale, limit):

                def work(tx: ManagedTransaction, b=batch) -> None:
                    tx.run(_DELETE_MENTIONS, ids=[m["id"] for m in b]).consume()
                    orphans = _refresh_entities(tx, _union(*(m["entity_ids"] for m in b)))
                    if orphans:
                        tx.run(_DELETE_ENTITIES, ids=[o["id"] for o in orphans]).consume()

                self._transaction(work, "removing mentions")

        def chunks() -> None:
            keep = {c["id"] for c in plan.chunks}
            pairs = {(n["first"], n["second"]) for n in plan.next_links}
            stored = self._read(_STORED_CHUNKS, "reading chunks", ids=ids)
            gone = [c["id"] for c in stored if c["id"] not in keep]
            unlink = [
                {"first": c["id"], "second": n}
                for c in stored
                if c["id"] in keep
                for n in c["next"]
                if (c["id"], n) not in pairs
            ]
            for batch in _batches(gone, limit):
                self._transaction(
                    lambda tx, b=batch: tx.run(_DELETE_CHUNK_IDS, ids=b).consume(),
                    "removing chunks",
                )
            self._write_rows(_UNLINK_CHUNKS, unlink, "unlinking chunks")

        return [
            ("mark documents", mark),
            ("relation evidence", evidence),
            ("mentions", mentions),
            ("chunks", chunks),
        ]

    # -- reads ------------------------------------------------------------------------------

    def document_states(self) -> dict[str, DocumentState]:
        rows = self.query(
            "MATCH (d:Document) RETURN d.id AS id, d.source AS source, "
            "d.content_hash AS content_hash, d.model_id AS model_id, "
            "d.schema_fingerprint AS schema_fingerprint"
        )
        return {row["id"]: DocumentState(**row) for row in rows}

    def document_states_for(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        """The states of the given documents, looked up by id (the unique constraint's index)."""
        out: dict[str, DocumentState] = {}
        for batch in _batches(_union(document_ids), self.batch_size):
            rows = self.query(
                "UNWIND $ids AS id MATCH (d:Document {id: id}) RETURN d.id AS id, "
                "d.source AS source, d.content_hash AS content_hash, d.model_id AS model_id, "
                "d.schema_fingerprint AS schema_fingerprint",
                {"ids": list(batch)},
            )
            out.update((row["id"], DocumentState(**row)) for row in rows)
        return out

    def state_lookup(self) -> Neo4jStateLookup:
        """A lookup that connects to this server from a worker and asks by id."""
        return Neo4jStateLookup(self.uri, self.user, self._password, self.database)

    def mark_seen(self, document_ids: Iterable[str], run_id: str) -> None:
        """Set ``kgbuild_seen_run`` on these Document nodes (removed by :meth:`clear_marks`)."""
        self._write_rows(
            "UNWIND $rows AS id MATCH (d:Document {id: id}) SET d.kgbuild_seen_run = $run",
            _union(document_ids),
            "marking documents seen",
            run=run_id,
        )

    def unseen(self, run_id: str) -> list[DocumentState]:
        """Documents whose ``kgbuild_seen_run`` is not ``run_id``, sorted by source."""
        rows = self.query(
            "MATCH (d:Document) WHERE d.kgbuild_seen_run IS NULL OR d.kgbuild_seen_run <> $run "
            "RETURN d.id AS id, d.source AS source, d.content_hash AS content_hash, "
            "d.model_id AS model_id, d.schema_fingerprint AS schema_fingerprint "
            "ORDER BY source",
            {"run": run_id},
        )
        return [DocumentState(**row) for row in rows]

    def clear_marks(self) -> None:
        """Remove every ``kgbuild_seen_run`` mark, in batches."""
        query = (
            "MATCH (d:Document) WHERE d.kgbuild_seen_run IS NOT NULL WITH d LIMIT $n "
            "REMOVE d.kgbuild_seen_run RETURN count(d) AS n"
        )
        while self._transaction(
            lambda tx: tx.run(query, n=self.batch_size).single()["n"], "clearing run marks"
        ):
            pass

    def find_entities(self, keys: Iterable[str]) -> list[Entity]:
        """Entities whose ``keys`` hold any of ``keys``, sorted by id."""
        wanted = _union(keys)
        if not wanted:
            return []
        names = [k for k in wanted if k.startswith(NAME_KEY_PREFIXES)]
        others = [k for k in wanted if not k.startswith(NAME_KEY_PREFIXES)]
        by_id: dict[str, dict[str, Any]] = {}
        if names:
            by_id.update((r["id"], r) for r in self.query(_FIND_BY_NAME_KEY, {"keys": names}))
        if others:  # a pass over all entities: the resolver asks only for name keys
            found = self.query(_FIND_BY_ANY_KEY, {"keys": dict.fromkeys(others, True)})
            by_id.update((r["id"], r) for r in found)
        rows = [by_id[i] for i in sorted(by_id)]
        return [
            Entity(
                id=r["id"],
                name=r["name"],
                type=r["type"],
                aliases=r["aliases"] or [],
                mention_count=r["mention_count"] or 0,
                keys=r["keys"] or [],
            )
            for r in rows
        ]

    def query(self, cypher: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts of column -> plain Python values.

        Nodes and relationships come back as dicts of their properties, paths as lists
        of node dicts, temporal values as ISO 8601 strings.
        """

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            result = tx.run(cypher, parameters or {})
            return [{k: _plain(v) for k, v in record.items()} for record in result]

        try:
            return self._transaction(work, "query", write=False)
        except (Neo4jError, DriverError) as exc:
            raise StoreError(f"query failed: {self._redact(str(exc))}\n{cypher}") from exc

    def counts(self) -> dict[str, int]:
        """Numbers of documents, chunks, mentions, entities and relations (Entity->Entity)."""
        row = self.query(
            "CALL { MATCH (n:Document) RETURN count(n) AS documents } "
            "CALL { MATCH (n:Chunk) RETURN count(n) AS chunks } "
            "CALL { MATCH (n:Mention) RETURN count(n) AS mentions } "
            "CALL { MATCH (n:Entity) RETURN count(n) AS entities } "
            "CALL { MATCH (:Entity)-[r]->(:Entity) RETURN count(r) AS relations } "
            "RETURN documents, chunks, mentions, entities, relations"
        )[0]
        return {k: int(v) for k, v in row.items()}
