"""Neo4j's own vector and full-text indexes, where the server has them (Neo4j 5.11+).

On such a server search ranks with ``db.index.vector.queryNodes`` (an HNSW index over
``Chunk.embedding`` / ``Entity.embedding``, cosine) and ``db.index.fulltext.queryNodes``
(Lucene over ``Chunk.text`` / ``Entity.name``) instead of the client-side index of
:mod:`kgbuild.search.index`; the indexes are created on first use (``IF NOT EXISTS``).
Servers without them (the ArcadeDB Bolt server the tests use, Neo4j before 5.11) get the
exact client-side search, with the same results as the NetworkX store.

**Untested here**: kgbuild's tests run on ArcadeDB, which has neither procedure, so this
path has only been written against Neo4j's documentation. Its rankings can differ from
the exact search (HNSW is approximate, Lucene's analyzer and BM25 are not bm25s's).
``KGBUILD_SEARCH_NATIVE=0`` turns it off.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Literal

import numpy as np

from kgbuild.search.encoder import DIMENSIONS
from kgbuild.store.base import GraphStore

__all__ = ["NativeIndexes", "native_indexes"]

logger = logging.getLogger(__name__)

NATIVE_ENV = "KGBUILD_SEARCH_NATIVE"
#: What a server must offer for the native path.
PROCEDURES = ("db.index.vector.queryNodes", "db.index.fulltext.queryNodes")

_VECTOR_INDEX = {"chunk": "kgbuild_chunk_embedding", "entity": "kgbuild_entity_embedding"}
_TEXT_INDEX = {"chunk": "kgbuild_chunk_text", "entity": "kgbuild_entity_name"}
_LABEL = {"chunk": "Chunk", "entity": "Entity"}
_TEXT_PROPERTY = {"chunk": "text", "entity": "name"}
_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


class NativeIndexes:
    """Rankings from the server's vector and full-text indexes (see the module doc)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._ready = False

    def ensure(self) -> None:
        """Create the four indexes if missing (idempotent)."""
        if self._ready:
            return
        driver, database = self.store.driver, self.store.database  # type: ignore[attr-defined]

        def run(statement: str) -> None:  # schema commands: one auto-commit each
            driver.execute_query(statement, database_=database)

        for kind in ("chunk", "entity"):
            label = _LABEL[kind]
            run(
                f"CREATE VECTOR INDEX {_VECTOR_INDEX[kind]} IF NOT EXISTS "
                f"FOR (n:{label}) ON (n.embedding) OPTIONS {{indexConfig: {{"
                f"`vector.dimensions`: {DIMENSIONS}, `vector.similarity_function`: 'cosine'}}}}"
            )
            run(
                f"CREATE FULLTEXT INDEX {_TEXT_INDEX[kind]} IF NOT EXISTS "
                f"FOR (n:{label}) ON EACH [n.{_TEXT_PROPERTY[kind]}]"
            )
        self._ready = True

    def vector_ranking(
        self, kind: Literal["chunk", "entity"], query: np.ndarray, n: int
    ) -> list[tuple[str, float]]:
        self.ensure()
        rows = self.store.query(
            "CALL db.index.vector.queryNodes($index, $n, $vector) YIELD node, score "
            "RETURN node.id AS id, score ORDER BY score DESC, id ASC",
            {"index": _VECTOR_INDEX[kind], "n": n, "vector": query.astype(float).tolist()},
        )
        return [(r["id"], float(r["score"])) for r in rows]

    def keyword_ranking(
        self, kind: Literal["chunk", "entity"], text: str, n: int
    ) -> list[tuple[str, float]]:
        self.ensure()
        escaped = _LUCENE_SPECIAL.sub(r"\\\1", text)
        rows = self.store.query(
            "CALL db.index.fulltext.queryNodes($index, $text) YIELD node, score "
            "RETURN node.id AS id, score ORDER BY score DESC, id ASC LIMIT $n",
            {"index": _TEXT_INDEX[kind], "text": escaped, "n": n},
        )
        return [(r["id"], float(r["score"])) for r in rows]


def _server(store: GraphStore) -> tuple[str, tuple[int, ...]] | None:
    try:
        rows: list[dict[str, Any]] = store.query(
            "CALL dbms.components() YIELD name, versions RETURN name, versions[0] AS version"
        )
    except Exception as exc:  # noqa: BLE001 - any server without the procedure
        logger.debug("no dbms.components() (%s): not Neo4j", exc)
        return None
    for row in rows:
        if row.get("name") == "Neo4j Kernel" and isinstance(row.get("version"), str):
            numbers = tuple(int(p) for p in re.findall(r"\d+", row["version"])[:2])
            return row["name"], numbers
    return None


def native_indexes(store: GraphStore) -> NativeIndexes | None:
    """:class:`NativeIndexes` when ``store`` is Neo4j 5.11 or later (and
    ``$KGBUILD_SEARCH_NATIVE`` is not 0), else None (exact client-side search)."""
    if os.environ.get(NATIVE_ENV, "").strip() in ("0", "off", "false"):
        return None
    from kgbuild.store.networkx_store import NetworkXStore

    if isinstance(store, NetworkXStore):
        return None
    server = _server(store)
    if server is None or server[1] < (5, 11):
        return None
    # Some Bolt servers (ArcadeDB) call themselves "Neo4j Kernel 5.x" without having the
    # procedures: ask for them by name.
    try:
        found = {
            r["name"]
            for r in store.query(
                "SHOW PROCEDURES YIELD name WHERE name IN $names RETURN name",
                {"names": list(PROCEDURES)},
            )
        }
    except Exception as exc:  # noqa: BLE001 - no SHOW PROCEDURES: no native indexes
        logger.debug("SHOW PROCEDURES failed (%s)", exc)
        return None
    if found != set(PROCEDURES):
        logger.debug("server lacks %s: exact search", sorted(set(PROCEDURES) - found))
        return None
    logger.info("using Neo4j %s's vector and full-text indexes", ".".join(map(str, server[1])))
    return NativeIndexes(store)
