"""The Neo4j store: schema set-up and reads, on top of the connection and the writes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from neo4j.exceptions import (
    DriverError,
    Neo4jError,
)

from kgbuild.store.base import (
    NAME_KEY_PREFIXES,
    SHORT_KEY_PREFIXES,
    DocumentState,
    DocumentStateLookup,
    GraphStore,
    StoreError,
    check_node_label,
)
from kgbuild.store.neo4j_store.cypher import (
    _DROP_OLD_KEYS,
    _FIND_BY_ANY_KEY,
    _FIND_BY_NAME_KEY,
    _FIND_BY_SHORT_KEY,
    _quote,
    _schema_file,
    schema_statements,
)
from kgbuild.store.neo4j_store.rows import _batches, _plain, _union
from kgbuild.store.neo4j_store.writes import Neo4jWrites
from kgbuild.types import Entity

logger = logging.getLogger(__name__)


class Neo4jStore(Neo4jWrites, GraphStore):
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

    # -- reads ------------------------------------------------------------------------------

    def document_states(self) -> dict[str, DocumentState]:
        rows = self.query(
            "MATCH (d:Document) RETURN d.id AS id, d.source AS source, "
            "d.content_hash AS content_hash, d.model_id AS model_id, "
            "d.schema_fingerprint AS schema_fingerprint, d.overrides AS overrides"
        )
        return {row["id"]: DocumentState(**row) for row in rows}

    def document_states_for(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        """The states of the given documents, looked up by id (the unique constraint's index)."""
        out: dict[str, DocumentState] = {}
        for batch in _batches(_union(document_ids), self.batch_size):
            rows = self.query(
                "UNWIND $ids AS id MATCH (d:Document {id: id}) RETURN d.id AS id, "
                "d.source AS source, d.content_hash AS content_hash, d.model_id AS model_id, "
                "d.schema_fingerprint AS schema_fingerprint, d.overrides AS overrides",
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
            "d.model_id AS model_id, d.schema_fingerprint AS schema_fingerprint, "
            "d.overrides AS overrides ORDER BY source",
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
        shorts = [k for k in wanted if k.startswith(SHORT_KEY_PREFIXES)]
        others = [k for k in wanted if not k.startswith(NAME_KEY_PREFIXES + SHORT_KEY_PREFIXES)]
        by_id: dict[str, dict[str, Any]] = {}
        if names:
            by_id.update((r["id"], r) for r in self.query(_FIND_BY_NAME_KEY, {"keys": names}))
        if shorts:
            by_id.update((r["id"], r) for r in self.query(_FIND_BY_SHORT_KEY, {"keys": shorts}))
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

    def set_node_properties(self, label: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Set properties of existing ``label`` nodes by id (see GraphStore), in batches;
        unknown ids are skipped, None removes a property (``SET n += props``)."""
        check_node_label(label)
        rows = []
        for node_id, props in values.items():
            if "id" in props:
                raise ValueError(f"property 'id' of {node_id} cannot be set")
            rows.append({"id": node_id, "props": {k: _plain(v) for k, v in props.items()}})
        query = f"UNWIND $rows AS r MATCH (n:{_quote(label)} {{id: r.id}}) SET n += r.props"
        self._write_rows(query, rows, f"setting {label} properties")

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
