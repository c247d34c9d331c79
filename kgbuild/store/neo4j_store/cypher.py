"""The Neo4j store's Cypher: the schema file, safe label quoting, and every statement.

Labels and relationship types reach the query text only through :func:`_quote`; values
are always parameters.
"""

from __future__ import annotations

import logging
from pathlib import Path as FilePath

from kgbuild.schema import SAFE_IDENTIFIER, InvalidTypeName
from kgbuild.store.base import (
    StoreError,
)

logger = logging.getLogger(__name__)


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


def _schema_file() -> FilePath:
    """``cypher/schema.cypher``: inside the package if shipped there, else the checkout's."""
    package = FilePath(__file__).resolve().parents[2]
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
WITH e, m.text AS text, count(m) AS n, collect(DISTINCT m.keys) AS key_lists,
     collect(DISTINCT m.merges) AS merge_lists
WITH e, sum(n) AS total,
     collect(CASE WHEN n > 0 THEN {text: text, n: n, key_lists: key_lists,
                                   merge_lists: merge_lists} END) AS forms
RETURN e.id AS id, total AS n, forms, coalesce(e.keys, []) AS old_keys
"""

_SET_DESCRIPTIONS = """
UNWIND $rows AS r
MATCH (e:Entity {id: r.id})
SET e.mention_count = r.n, e.name = r.name, e.aliases = r.aliases, e.keys = r.keys,
    e.merges = r.merges
"""

_DELETE_ENTITIES = "UNWIND $ids AS id MATCH (e:Entity {id: id}) DETACH DELETE e"

# The alias index. Name keys (n:, x:) through the mentions' indexed name_key, short-form
# keys (l:, h:) through their indexed short_key; other keys
# by one pass over the entities, each key tested against a map (a list membership test
# per key, ``k IN $list``, was 4x slower on ArcadeDB): neither server indexes list elements.
_ENTITY_COLUMNS = """e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases,
       e.mention_count AS mention_count, e.keys AS keys"""
_FIND_BY_NAME_KEY = f"""
UNWIND $keys AS key
MATCH (:Mention {{name_key: key}})-[:REFERS_TO]->(e:Entity)
RETURN DISTINCT {_ENTITY_COLUMNS}
"""
_FIND_BY_SHORT_KEY = f"""
UNWIND $keys AS key
MATCH (:Mention {{short_key: key}})-[:REFERS_TO]->(e:Entity)
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
    e.keys = r.keys, e.merges = r.merges, e.mention_count = r.n
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
