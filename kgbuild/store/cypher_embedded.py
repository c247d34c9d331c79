"""Cypher on the NetworkX store through an embedded ArcadeDB engine.

The NetworkX store keeps its graph in a ``networkx.MultiDiGraph``. To answer Cypher as
people write it (single-quoted strings, ``count()``, ``OPTIONAL MATCH``, ``WITH ...
WHERE``, ``collect()``, ``toLower()``, ``type(r)``, patterns in both directions,
``$parameters``), :class:`EmbeddedCypher` mirrors that graph into an embedded
`ArcadeDB <https://arcadedb.com>`_ database (PyPI ``arcadedb-embedded``: the Java engine
runs inside the Python process through JPype) and runs the query there. It is the same
engine as the Bolt server the Neo4j backend's tests run against, so a query gives the
same rows on both stores.

* **The mirror.** Every node is created with its labels (``(:Entity:Person)``) and its
  properties (everything but ``__labels__``), every edge with its relationship type and
  properties, in one transaction, through plain Cypher ``UNWIND $rows ... CREATE``. The
  mirror lives in a temporary folder (on disk, so it is not bound by the JVM heap) that
  :meth:`EmbeddedCypher.close` removes. It is rebuilt when the store's revision changes
  (the store bumps it on every write) or when the graph's node or edge count changed.
* **Read only.** :func:`check_read_only` refuses write clauses, procedure calls and
  schema commands before anything runs, with an error naming the construct and the
  backend that runs it (the Neo4j backend); queries also go through ArcadeDB's
  read-only ``query`` entry point.
* **Neo4j-shaped rows.** Rows are dicts keyed by column, in ``RETURN`` order; nodes and
  relationships come back as dicts of their properties, paths as lists of node dicts,
  exactly as :meth:`kgbuild.store.neo4j_store.Neo4jStore.query` returns them.

The JVM starts on the first query of a process (about a second) and stays up until the
process ends; ``$KGBUILD_CYPHER_HEAP`` sets its maximum heap (default ``1g``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from kgbuild.schema import SAFE_IDENTIFIER
from kgbuild.store.cypher_networkx import CypherError, query_summary

__all__ = ["CypherError", "EmbeddedCypher", "check_read_only"]

logger = logging.getLogger(__name__)

#: Rows per ``UNWIND`` statement while the mirror is built.
LOAD_BATCH = 5_000
#: Maximum JVM heap unless ``$KGBUILD_CYPHER_HEAP`` says otherwise.
DEFAULT_HEAP = "1g"


# -- read only ---------------------------------------------------------------------------

# Strings, comments and backtick-quoted names, so that keywords inside them are ignored.
_NOT_CODE = re.compile(
    r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|//[^\n]*|/\*.*?\*/|`[^`]*`""", re.DOTALL
)
# Clauses that change the graph or the schema, or call procedures: not on the read path.
# A keyword used as a name is not a clause: after "." (n.set), "AS" (AS create) or ":"
# (labels), or before ":" (a map key).
_FORBIDDEN = re.compile(
    r"(?<![.:\w])(?<!\bAS )(?P<kw>CREATE|MERGE|SET|DETACH\s+DELETE|DELETE|REMOVE|DROP"
    r"|FOREACH|LOAD\s+CSV|CALL|SHOW)\b(?!\s*:)",
    re.IGNORECASE,
)
_WRITES = {"CREATE", "MERGE", "SET", "DELETE", "DETACH DELETE", "REMOVE", "FOREACH"}


def _code_only(cypher: str) -> str:
    """The query with strings, comments and quoted names blanked (same length)."""
    return _NOT_CODE.sub(lambda m: " " * len(m.group(0)), cypher)


def check_read_only(cypher: str) -> None:
    """Raise :class:`CypherError` if ``cypher`` writes, calls a procedure or changes schema.

    The message names the construct and the backend that runs it, e.g.
    ``CREATE is a write: ... run writes on the Neo4j backend``.
    """
    found = _FORBIDDEN.search(_code_only(cypher))
    if found is None:
        return
    keyword = " ".join(found.group("kw").upper().split())
    where = f"{keyword!s} in query {query_summary(cypher)!r}"
    if keyword in _WRITES or keyword == "LOAD CSV":
        raise CypherError(
            f"{where}: the NetworkX store's query() is read-only (it changes only through "
            "kgbuild ingest / the store's write methods); Cypher writes run on the Neo4j "
            "backend (--store bolt://...)"
        )
    if keyword == "CALL":
        raise CypherError(
            f"{where}: procedures and CALL subqueries are not available on the NetworkX "
            "store; they run on the Neo4j backend (--store bolt://...)"
        )
    raise CypherError(
        f"{where}: administration and schema commands are not available on the NetworkX "
        "store; they run on the Neo4j backend (--store bolt://...)"
    )


# -- parameters and values ---------------------------------------------------------------


def _check_parameter(name: str, value: Any) -> None:
    """Refuse values with no Cypher counterpart, naming the parameter."""
    if value is None or isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_parameter(name, item)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CypherError(f"parameter ${name}: map keys must be strings, got {key!r}")
            _check_parameter(name, item)
        return
    raise CypherError(
        f"parameter ${name}: values of type {type(value).__name__} are not supported "
        "(use str, int, float, bool, None, or lists and maps of those)"
    )


def _properties(data: Mapping[str, Any]) -> dict[str, Any]:
    """A node's or edge's attributes as Cypher properties (no ``__labels__``, no None)."""
    return {
        k: (sorted(v) if isinstance(v, set | frozenset) else list(v) if isinstance(v, tuple) else v)
        for k, v in data.items()
        if k != "__labels__" and v is not None
    }


def _node_id(node: Any, data: Mapping[str, Any]) -> Any:
    """The ``id`` property a node is looked up by: its own, else its NetworkX key."""
    value = data.get("id")
    return value if value is not None else str(node)


def _quote(name: str) -> str:
    if not SAFE_IDENTIFIER.match(name):
        raise CypherError(f"label or relationship type {name!r} is not a safe identifier")
    return f"`{name}`"


# -- the engine ----------------------------------------------------------------------------

_JVM_LOCK = threading.Lock()


_JVM_READY = False


def _create_database(path: Path, heap: str) -> Any:
    """A new embedded ArcadeDB database at ``path``; the JVM starts with the first one.

    The engine's own INFO/WARNING log lines (index builds, a GraalVM notice) are
    silenced unless this module logs at DEBUG, and it writes no log files
    (``arcadedb-log.properties`` beside this module); a JVM crash report goes to the
    system's temporary folder instead of ``./log``.
    """
    global _JVM_READY
    try:
        import arcadedb_embedded
    except ImportError as exc:  # pragma: no cover - it is a dependency of kgbuild
        raise CypherError(
            "Cypher on the NetworkX store needs the package arcadedb-embedded "
            "(pip install arcadedb-embedded), or KGBUILD_CYPHER_ENGINE=grand-cypher"
        ) from exc
    with _JVM_LOCK:
        os.environ.setdefault(
            "ARCADEDB_JVM_ERROR_FILE",
            str(Path(tempfile.gettempdir()) / "kgbuild-arcadedb-hs_err_pid%p.log"),
        )
        logging_config = Path(__file__).with_name("arcadedb-log.properties")
        database = arcadedb_embedded.create_database(
            str(path),
            jvm_kwargs={
                "heap_size": heap,
                # No ./log/arcadedb.log.* files in the user's folder.
                "jvm_args": [f"-Djava.util.logging.config.file={logging_config}"],
            },
        )
        if not _JVM_READY:
            import jpype

            level = jpype.JClass("java.util.logging.Level")
            quiet = level.FINE if logger.isEnabledFor(logging.DEBUG) else level.SEVERE
            root = jpype.JClass("java.util.logging.Logger").getLogger("")
            root.setLevel(quiet)
            for handler in root.getHandlers():
                handler.setLevel(quiet)
            _JVM_READY = True
    return database


class EmbeddedCypher:
    """An embedded ArcadeDB copy of a NetworkX graph that answers read-only Cypher.

    Args:
        heap: maximum JVM heap (e.g. ``"2g"``); default ``$KGBUILD_CYPHER_HEAP`` or 1g.
            Only the first engine of a process sets it (there is one JVM per process).

    Use :meth:`query` with the graph and a revision number that changes whenever the
    graph does; :meth:`close` deletes the mirror.
    """

    def __init__(self, heap: str | None = None) -> None:
        self.heap = heap or os.environ.get("KGBUILD_CYPHER_HEAP") or DEFAULT_HEAP
        self._dir: Path | None = None
        self._db: Any = None
        self._state: tuple[int, int, int] | None = None  # (revision, nodes, edges) mirrored

    def __repr__(self) -> str:
        return f"EmbeddedCypher(mirror={str(self._dir) if self._dir else None!r})"

    def close(self) -> None:
        """Close and delete the mirror (the JVM stays up for the rest of the process)."""
        if self._db is not None:
            try:
                self._db.close()
            except Exception:  # noqa: BLE001 - closing a mirror that is being thrown away
                logger.debug("closing the Cypher mirror failed", exc_info=True)
            self._db = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._state = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the JVM may be gone
            pass

    # -- the mirror ----------------------------------------------------------------------

    def sync(self, graph: nx.MultiDiGraph, revision: int) -> None:
        """Make the mirror a copy of ``graph`` unless it already is (same revision and size)."""
        state = (revision, graph.number_of_nodes(), graph.number_of_edges())
        if state == self._state and self._db is not None:
            return
        self.close()
        self._dir = Path(tempfile.mkdtemp(prefix="kgbuild-cypher-"))
        # Removed by close(); this also removes it when the process exits without one.
        weakref.finalize(self, shutil.rmtree, str(self._dir), ignore_errors=True)
        self._db = _create_database(self._dir / "graph", self.heap)
        try:
            self._load(graph)
        except Exception:
            self.close()
            raise
        self._state = state

    def _load(self, graph: nx.MultiDiGraph) -> None:
        db = self._db
        by_labels: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for node, data in graph.nodes(data=True):
            labels = tuple(sorted(data.get("__labels__", ())))
            by_labels[labels].append({**_properties(data), "id": _node_id(node, data)})
        edges: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for u, v, data in graph.edges(data=True):
            types = sorted(data.get("__labels__", ()))
            if len(types) != 1:
                raise CypherError(
                    f"edge {u!r} -> {v!r} has relationship types {types}: Cypher needs exactly one"
                )
            edges[(self._anchor(graph, u), types[0], self._anchor(graph, v))].append(
                {
                    "a": _node_id(u, graph.nodes[u]),
                    "b": _node_id(v, graph.nodes[v]),
                    "p": _properties(data),
                }
            )
        anchors = {self._anchor(graph, n) for n in graph.nodes}
        with db.transaction():
            for labels, rows in sorted(by_labels.items()):
                pattern = "".join(f":{_quote(label)}" for label in labels) or ":`_Node`"
                for batch in _chunks(rows):
                    db.command(
                        "cypher",
                        f"UNWIND $rows AS r CREATE (n{pattern}) SET n = r",
                        {"rows": batch},
                    )
        for anchor in sorted(anchors):
            db.command("cypher", f"CREATE INDEX IF NOT EXISTS FOR (n:{_quote(anchor)}) ON (n.id)")
        with db.transaction():
            for (head, rel_type, tail), rows in sorted(edges.items()):
                statement = (
                    f"UNWIND $rows AS r MATCH (a:{_quote(head)} {{id: r.a}}) "
                    f"MATCH (b:{_quote(tail)} {{id: r.b}}) "
                    f"CREATE (a)-[e:{_quote(rel_type)}]->(b) SET e += r.p"
                )
                for batch in _chunks(rows):
                    db.command("cypher", statement, {"rows": batch})
        logger.info(
            "Cypher mirror of %d nodes, %d edges in %s",
            graph.number_of_nodes(),
            graph.number_of_edges(),
            self._dir,
        )

    @staticmethod
    def _anchor(graph: nx.MultiDiGraph, node: Any) -> str:
        """The label to look a node up by while loading: its first label in sorted order."""
        labels = sorted(graph.nodes[node].get("__labels__", ()))
        return labels[0] if labels else "_Node"

    # -- queries -------------------------------------------------------------------------

    def query(
        self,
        graph: nx.MultiDiGraph,
        revision: int,
        cypher: str,
        parameters: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Run a read query on ``graph``; rows as dicts of column -> plain Python values."""
        check_read_only(cypher)
        parameters = dict(parameters or {})
        for name, value in parameters.items():
            _check_parameter(name, value)
        self.sync(graph, revision)
        try:
            result = self._db.query("cypher", cypher, parameters)
            rows = [_row(r) for r in result]
        except Exception as exc:
            raise CypherError(
                f"query {query_summary(cypher)!r} failed on the NetworkX store's Cypher engine "
                f"(embedded ArcadeDB): {_reason(exc)}"
            ) from exc
        return rows


def _chunks(rows: list[Any], size: int = LOAD_BATCH) -> Iterable[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _reason(exc: BaseException) -> str:
    """The engine's own message, without the Java stack and wrapper prefixes."""
    text = str(exc).strip()
    for prefix in ("Query failed: ", "Command failed: "):
        text = text.removeprefix(prefix)
    text = re.sub(r"^(?:[\w.]+(?:Exception|Error):\s*)+", "", text)
    return text.splitlines()[0] if text else type(exc).__name__


def _row(result: Any) -> dict[str, Any]:
    java = result._java_result
    return {str(name): _plain(java.getProperty(name)) for name in java.getPropertyNames()}


_JAVA: dict[str, Any] = {}
_TEMPORAL = "com.arcadedb.query.opencypher.temporal."


def _java_types() -> dict[str, Any]:
    """The Java classes :func:`_plain` tests values against (looked up once)."""
    if not _JAVA:
        import jpype
        from arcadedb_embedded.type_conversion import convert_java_to_python

        _JAVA.update(
            object=jpype.JObject,
            document=jpype.JClass("com.arcadedb.database.Document"),
            path=jpype.JClass("com.arcadedb.query.opencypher.traversal.TraversalPath"),
            map=jpype.JClass("java.util.Map"),
            iterable=jpype.JClass("java.lang.Iterable"),
            convert=convert_java_to_python,
        )
    return _JAVA


def _plain(value: Any) -> Any:
    """An engine value as plain Python: vertices and edges become dicts of properties,
    paths lists of them, as the Neo4j store returns them."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    java = _java_types()
    if isinstance(value, java["object"]):
        if isinstance(value, java["document"]):
            return {str(n): _plain(value.get(n)) for n in sorted(value.getPropertyNames())}
        if isinstance(value, java["path"]):
            return [_plain(v) for v in value.getVertices()]
        if str(value.getClass().getName()).startswith(_TEMPORAL):
            return str(value.toString())  # ISO 8601, as the Neo4j store returns temporals
        if isinstance(value, java["map"]):
            return {str(k): _plain(v) for k, v in value.entrySet()}
        if isinstance(value, java["iterable"]):
            return [_plain(v) for v in value]
    converted = java["convert"](value)
    if isinstance(converted, list | tuple):
        return [_plain(v) for v in converted]
    if isinstance(converted, dict):
        return {str(k): _plain(v) for k, v in converted.items()}
    return converted
