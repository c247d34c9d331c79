"""Graph stores: where the knowledge graph lives (NetworkX JSON file or Neo4j).

``open_store("graph.json")`` gives a :class:`NetworkXStore`;
``open_store("bolt://localhost:7687")`` gives a ``Neo4jStore``. Both implement
:class:`GraphStore` with the same graph shape (see :mod:`kgbuild.store.base`), so the
queries in ``cypher/`` (:mod:`kgbuild.store.queries`) run on either.
"""

from __future__ import annotations

import os
import re

from kgbuild.store.base import (
    DocumentState,
    DocumentStateLookup,
    GraphStore,
    StateSnapshot,
    StoreError,
)
from kgbuild.store.cypher_networkx import CypherError
from kgbuild.store.networkx_store import NetworkXStore

__all__ = [
    "NEO4J_SCHEMES",
    "CypherError",
    "DocumentState",
    "DocumentStateLookup",
    "GraphStore",
    "NetworkXStore",
    "StateSnapshot",
    "StoreError",
    "open_store",
]

#: URI schemes that select the Neo4j backend (those the neo4j driver accepts).
NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def open_store(
    store: str | os.PathLike[str],
    *,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> GraphStore:
    """The store that ``store`` names; use it as a context manager to open and close it.

    Args:
        store: A path ending in ``.json`` (NetworkX; the file need not exist yet) or a
            ``bolt://``, ``neo4j://``, ``bolt+s://``, ``neo4j+s://`` (or ``+ssc``) URI.
        user, password, database: Neo4j credentials and database; each defaults to
            the environment variable ``NEO4J_USERNAME`` / ``NEO4J_PASSWORD`` /
            ``NEO4J_DATABASE``, then to the driver's default. Ignored for JSON files.

    Returns an unopened store: ``with open_store("graph.json") as store: ...``.

    >>> open_store("graph.json")
    NetworkXStore('graph.json')

    Raises ``ValueError`` for anything else, naming what was given (without any
    password embedded in a URI).
    """
    text = os.fspath(store)
    scheme = text.split("://", 1)[0].lower() if "://" in text else None
    if scheme in NEO4J_SCHEMES:
        # Imported here so NetworkX users never load the Neo4j driver.
        from kgbuild.store.neo4j_store import Neo4jStore

        return Neo4jStore(
            text,
            user if user is not None else os.environ.get("NEO4J_USERNAME"),
            password if password is not None else os.environ.get("NEO4J_PASSWORD"),
            database if database is not None else os.environ.get("NEO4J_DATABASE"),
        )
    if scheme is None and text.lower().endswith(".json"):
        return NetworkXStore(text)
    shown = re.sub(r"//[^/@]*@", "//***@", text)
    raise ValueError(
        f"store {shown!r} is not a graph store: give a path ending in .json (NetworkX) "
        f"or a Neo4j URI starting with {', '.join(s + '://' for s in NEO4J_SCHEMES)}"
    )
