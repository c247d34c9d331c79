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
``REFERS_TO``), the ``l:``/``h:`` keys under which a short form finds full names
through the indexed ``short_key`` of the full names' mentions; any other key by one
pass over the Entity nodes. ``MATCH (n) RETURN
count(n)`` gives the same number on both backends. Earlier versions kept one
``(:_EntityKey {key, entity_ids})`` node per key: :meth:`Neo4jStore.setup_schema`
deletes those and their constraint.
"""

from kgbuild.store.neo4j_store.connection import BOLT_SCHEMES, Neo4jConnection, is_bolt_uri
from kgbuild.store.neo4j_store.cypher import schema_statements
from kgbuild.store.neo4j_store.rows import _plain
from kgbuild.store.neo4j_store.store import Neo4jStateLookup, Neo4jStore
from kgbuild.store.neo4j_store.writes import Neo4jWrites, WriteError

__all__ = [
    "BOLT_SCHEMES",
    "Neo4jConnection",
    "Neo4jStateLookup",
    "Neo4jStore",
    "Neo4jWrites",
    "WriteError",
    "_plain",
    "is_bolt_uri",
    "schema_statements",
]
