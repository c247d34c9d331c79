"""Cypher on the NetworkX store through an embedded ArcadeDB engine.

The NetworkX store keeps its graph in a ``networkx.MultiDiGraph``. To answer Cypher as
people write it (single-quoted strings, ``count()``, ``OPTIONAL MATCH``, ``WITH ...
WHERE``, ``collect()``, ``toLower()``, ``type(r)``, patterns in both directions,
``$parameters``), :class:`EmbeddedCypher` mirrors that graph into an embedded
`ArcadeDB <https://arcadedb.com>`_ database (PyPI ``arcadedb-embedded``: the Java engine
runs inside the Python process through JPype) and runs the query there. It is the same
engine as the Bolt server the Neo4j backend's tests run against, so a query gives the
same rows on both stores.

* **The mirror.** Every node becomes a vertex with its labels and its properties
  (everything but ``__labels__``), every edge an edge with its relationship type and
  properties. It is loaded through the engine's bulk graph API (``GraphBatch``: vertices
  and edges cross from Python as JSON, one call per few thousand rows), not through
  Cypher: types are created up front, a node with several labels gets the engine's own
  composite type for them (``Entity~Person``, a subtype of ``Entity`` and ``Person``, the
  type ``CREATE (n:Entity:Person)`` makes), so ``labels(n)`` and label matches behave
  exactly as for nodes created by Cypher. An index on ``id`` is built per label
  (:mod:`kgbuild.store.arcadedb_load`).
* **Where it lives.** For a store whose graph is its saved file (opened and not written
  since, or just saved), the mirror is kept on disk in a cache folder keyed by the
  file's path and a digest of its content (:func:`mirror_dir`): the next process that
  opens the same unchanged file reuses it instead of copying the graph again; a changed
  file gets a new mirror and the old one is deleted. The cache root is
  ``$KGBUILD_CACHE_DIR``, else ``$XDG_CACHE_HOME/kgbuild``, else ``~/.cache/kgbuild``;
  mirrors are under its ``cypher/`` folder, and deleting that folder at any time is safe
  (they are rebuilt on demand); building a mirror also deletes those of store files
  that no longer exist. A mirror is built in a temporary folder beside its final
  place, under a file lock, then renamed into place, so a killed build leaves no
  half-written mirror; one that does not open, or whose counts do not match the graph,
  is rebuilt. A store with unsaved writes, or with no file, gets a private temporary
  mirror that :meth:`EmbeddedCypher.close` deletes.
* **Read only.** :func:`check_read_only` refuses write clauses, procedure calls and
  schema commands before anything runs, with an error naming the construct and the
  backend that runs it (the Neo4j backend); mirrors are opened read-only and queries go
  through ArcadeDB's read-only ``query`` entry point.
* **Neo4j-shaped rows.** Rows are dicts keyed by column, in ``RETURN`` order; nodes and
  relationships come back as dicts of their properties, paths as lists of node dicts,
  exactly as :meth:`kgbuild.store.neo4j_store.Neo4jStore.query` returns them. Temporal
  values (``date()``, ``datetime()``, ...) come back as ISO 8601 strings
  (:mod:`kgbuild.store.arcadedb_values`).

The JVM starts on the first query of a process (about a second) and stays up until the
process ends; ``$KGBUILD_CYPHER_HEAP`` sets its maximum heap (default ``1g``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from kgbuild.store.arcadedb_load import count_vertices_and_edges, load_graph
from kgbuild.store.arcadedb_values import result_row
from kgbuild.store.cypher_networkx import CypherError, query_summary

__all__ = [
    "CypherError",
    "EmbeddedCypher",
    "MirrorSource",
    "cache_root",
    "check_read_only",
    "file_digest",
    "mirror_dir",
]

logger = logging.getLogger(__name__)

#: Maximum JVM heap unless ``$KGBUILD_CYPHER_HEAP`` says otherwise.
DEFAULT_HEAP = "1g"
#: Version of the mirror's layout: a new one never reuses mirrors of an older one.
MIRROR_FORMAT = 2
#: The file in a mirror folder that says it is complete and what it mirrors.
MARKER = "mirror.json"


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


# -- where mirrors live ------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorSource:
    """The saved graph file a mirror copies: its absolute path and content digest.

    Only valid while the store's graph is exactly what that file holds (opened and not
    written since, or just saved); :class:`kgbuild.store.NetworkXStore` decides that.
    """

    path: Path
    digest: str


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, hex (read in 1 MiB blocks)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cache_root() -> Path:
    """kgbuild's cache folder: ``$KGBUILD_CACHE_DIR``, ``$XDG_CACHE_HOME/kgbuild`` or
    ``~/.cache/kgbuild``. Everything in it can be deleted at any time."""
    explicit = os.environ.get("KGBUILD_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "kgbuild"


def _engine_version() -> str:
    import arcadedb_embedded

    return str(arcadedb_embedded.__version__)


def mirror_dir(source: MirrorSource) -> Path:
    """Where the mirror of ``source`` lives:
    ``<cache_root>/cypher/<hash of the file's path>/<content digest>-m<format>-a<engine>``.

    One folder per store file holds its mirrors (one at a time, older ones are deleted
    when a new one is built); the engine version is part of the name because its
    on-disk format is only guaranteed for the version that wrote it.
    """
    store = hashlib.sha256(str(source.path).encode("utf-8")).hexdigest()[:16]
    name = f"{source.digest[:32]}-m{MIRROR_FORMAT}-a{_engine_version()}"
    return cache_root() / "cypher" / store / name


# -- the engine ----------------------------------------------------------------------------

_JVM_LOCK = threading.Lock()
_JVM_READY = False


#: What the JVM prints to stderr when ArcadeDB's vector module loads (it always adds
#: ``--add-modules=jdk.incubator.vector``): noise in the output of every command.
_INCUBATOR_WARNING = b"WARNING: Using incubator modules: jdk.incubator.vector"


@contextlib.contextmanager
def _without_incubator_warning() -> Iterator[None]:
    """Within this block, the process's standard error (file descriptor 2, where the JVM
    writes, below Python's ``sys.stderr``) goes to a temporary file; what the JVM wrote
    there is passed on afterwards, without the incubator-module warning."""
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to redirect
        yield
        return
    with tempfile.TemporaryFile() as caught:
        try:
            sys.stderr.flush()
            os.dup2(caught.fileno(), 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [
                line
                for line in caught.read().splitlines(keepends=True)
                if line.rstrip() != _INCUBATOR_WARNING
            ]
            if kept:
                os.write(2, b"".join(kept))


def _start_engine(heap: str) -> Any:
    """Start the JVM once per process (quietly) and return the ``arcadedb_embedded`` module.

    The engine's own INFO/WARNING log lines (index builds, a GraalVM notice) are
    silenced unless this module logs at DEBUG, and it writes no log files
    (``arcadedb-log.properties`` beside this module); a JVM crash report goes to the
    system's temporary folder instead of ``./log``.
    """
    global _JVM_READY
    try:
        import arcadedb_embedded
        from arcadedb_embedded.jvm import start_jvm
    except ImportError as exc:  # pragma: no cover - it is a dependency of kgbuild
        raise CypherError(
            "Cypher on the NetworkX store needs the package arcadedb-embedded "
            "(pip install arcadedb-embedded), or KGBUILD_CYPHER_ENGINE=grand-cypher"
        ) from exc
    with _JVM_LOCK:
        if _JVM_READY:
            return arcadedb_embedded
        os.environ.setdefault(
            "ARCADEDB_JVM_ERROR_FILE",
            str(Path(tempfile.gettempdir()) / "kgbuild-arcadedb-hs_err_pid%p.log"),
        )
        logging_config = Path(__file__).with_name("arcadedb-log.properties")
        # No ./log/arcadedb.log.* files in the user's folder.
        with _without_incubator_warning():
            start_jvm(
                heap_size=heap, jvm_args=[f"-Djava.util.logging.config.file={logging_config}"]
            )
        import jpype

        level = jpype.JClass("java.util.logging.Level")
        quiet = level.FINE if logger.isEnabledFor(logging.DEBUG) else level.SEVERE
        root = jpype.JClass("java.util.logging.Logger").getLogger("")
        root.setLevel(quiet)
        for handler in root.getHandlers():
            handler.setLevel(quiet)
        _JVM_READY = True
    return arcadedb_embedded


def _open_read_only(path: Path, heap: str) -> Any:
    """Open the ArcadeDB database at ``path`` read-only (several processes may share it)."""
    arcadedb = _start_engine(heap)
    import jpype

    factory = jpype.JClass("com.arcadedb.database.DatabaseFactory")(str(path))
    if not factory.exists():
        raise CypherError(f"no ArcadeDB database at {path}")
    mode = jpype.JClass("com.arcadedb.engine.ComponentFile$MODE").READ_ONLY
    return arcadedb.Database(factory.open(mode))


class EmbeddedCypher:
    """An embedded ArcadeDB copy of a NetworkX graph that answers read-only Cypher.

    Args:
        heap: maximum JVM heap (e.g. ``"2g"``); default ``$KGBUILD_CYPHER_HEAP`` or 1g.
            Only the first engine of a process sets it (there is one JVM per process).

    Use :meth:`query` with the graph, a revision number that changes whenever the graph
    does and, when the graph is a saved file's content, that file (a
    :class:`MirrorSource`: the mirror is then kept on disk and reused across processes);
    :meth:`close` closes the mirror and deletes it unless it is such a kept one.

    After a :meth:`sync`, :attr:`mirror` is the mirror's folder, :attr:`reused` says
    whether an existing mirror was opened, and :attr:`build_seconds` how long building
    it took (``None`` when reused).
    """

    def __init__(self, heap: str | None = None) -> None:
        self.heap = heap or os.environ.get("KGBUILD_CYPHER_HEAP") or DEFAULT_HEAP
        self.mirror: Path | None = None
        self.reused = False
        self.build_seconds: float | None = None
        self._db: Any = None
        self._temporary = False  # a private mirror, deleted on close
        self._state: tuple[Any, ...] | None = None  # what the open mirror is a copy of

    def __repr__(self) -> str:
        return f"EmbeddedCypher(mirror={str(self.mirror) if self.mirror else None!r})"

    def close(self) -> None:
        """Close the mirror; delete it if it is a private one (the JVM stays up)."""
        if self._db is not None:
            try:
                self._db.close()
            except Exception:  # noqa: BLE001 - closing a read-only mirror
                logger.debug("closing the Cypher mirror failed", exc_info=True)
            self._db = None
        if self.mirror is not None and self._temporary:
            shutil.rmtree(self.mirror, ignore_errors=True)
        self.mirror = None
        self._temporary = False
        self._state = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the JVM may be gone
            pass

    # -- the mirror ----------------------------------------------------------------------

    def sync(
        self, graph: nx.MultiDiGraph, revision: int, source: MirrorSource | None = None
    ) -> None:
        """Make the open mirror a copy of ``graph`` unless it already is.

        With ``source`` the mirror of that file is reused from the cache, or built there;
        without, a private mirror of this revision of the graph is built.
        """
        counts = (graph.number_of_nodes(), graph.number_of_edges())
        if source is not None:
            state: tuple[Any, ...] = ("file", str(source.path), source.digest, *counts)
        else:
            state = ("memory", revision, *counts)
        if state == self._state and self._db is not None:
            return
        self.close()
        if source is not None:
            try:
                self._open_cached(graph, source)
            except OSError as exc:
                logger.warning(
                    "cannot keep the Cypher mirror of %s in %s (%s); using a temporary one",
                    source.path,
                    cache_root(),
                    exc,
                )
                self._open_temporary(graph)
        else:
            self._open_temporary(graph)
        self._state = state

    def _open_temporary(self, graph: nx.MultiDiGraph) -> None:
        folder = Path(tempfile.mkdtemp(prefix="kgbuild-cypher-"))
        self.mirror, self._temporary = folder, True
        # Removed by close(); this also removes it when the process exits without one.
        weakref.finalize(self, shutil.rmtree, str(folder), ignore_errors=True)
        try:
            self.build_seconds = _build(graph, folder, self.heap, marker=None)
            self._db = _open_read_only(folder / "graph", self.heap)
        except Exception:
            self.close()
            raise
        self.reused = False

    def _open_cached(self, graph: nx.MultiDiGraph, source: MirrorSource) -> None:
        from filelock import FileLock

        final = mirror_dir(source)
        if self._try_open(final, graph):
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        # One builder per store file at a time; the others wait, then reuse its mirror.
        with FileLock(str(final.parent / ".build.lock")):
            if self._try_open(final, graph):
                return
            for stale in final.parent.iterdir():  # older mirrors, killed builds
                if stale.is_dir():
                    logger.info("removing stale Cypher mirror %s", stale)
                    shutil.rmtree(stale, ignore_errors=True)
            building = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
            try:
                marker = {
                    "format": MIRROR_FORMAT,
                    "engine": _engine_version(),
                    "store": str(source.path),
                    "digest": source.digest,
                    "nodes": graph.number_of_nodes(),
                    "edges": graph.number_of_edges(),
                }
                seconds = _build(graph, building, self.heap, marker=marker)
                building.rename(final)
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
        _prune_orphans(final.parent)
        if not self._try_open(final, graph):
            raise CypherError(f"the Cypher mirror just built at {final} does not open")
        self.reused, self.build_seconds = False, seconds

    def _try_open(self, folder: Path, graph: nx.MultiDiGraph) -> bool:
        """Open the complete mirror in ``folder`` if it is one of ``graph``; else False.

        A folder with no marker, a marker for other counts or format, or a database that
        does not open or holds other counts is not reused (the caller rebuilds it).
        """
        marker_file = folder / MARKER
        if not marker_file.is_file():
            return False
        expected = (graph.number_of_nodes(), graph.number_of_edges())
        try:
            marker = json.loads(marker_file.read_text(encoding="utf-8"))
            if (marker.get("format"), marker.get("engine")) != (MIRROR_FORMAT, _engine_version()):
                raise ValueError(f"format {marker.get('format')}, engine {marker.get('engine')}")
            if (marker.get("nodes"), marker.get("edges")) != expected:
                raise ValueError(f"marker counts {marker.get('nodes')}, {marker.get('edges')}")
            db = _open_read_only(folder / "graph", self.heap)
            try:
                found = count_vertices_and_edges(db)
            except Exception:
                db.close()
                raise
            if found != expected:
                db.close()
                raise ValueError(f"database counts {found}")
        except Exception as exc:  # noqa: BLE001 - any damage means: build it again
            logger.warning("Cypher mirror %s is unusable (%s); rebuilding it", folder, exc)
            return False
        self._db, self.mirror, self._temporary = db, folder, False
        self.reused, self.build_seconds = True, None
        logger.info("reusing Cypher mirror %s", folder)
        return True

    # -- queries -------------------------------------------------------------------------

    def query(
        self,
        graph: nx.MultiDiGraph,
        revision: int,
        cypher: str,
        parameters: Mapping[str, Any] | None = None,
        source: MirrorSource | None = None,
    ) -> list[dict[str, Any]]:
        """Run a read query on ``graph``; rows as dicts of column -> plain Python values."""
        check_read_only(cypher)
        parameters = dict(parameters or {})
        for name, value in parameters.items():
            _check_parameter(name, value)
        self.sync(graph, revision, source)
        try:
            result = self._db.query("cypher", cypher, parameters)
            rows = [result_row(r) for r in result]
        except Exception as exc:
            raise CypherError(
                f"query {query_summary(cypher)!r} failed on the NetworkX store's Cypher engine "
                f"(embedded ArcadeDB): {_reason(exc)}"
            ) from exc
        return rows


def _prune_orphans(keep: Path) -> None:
    """Delete the mirrors of store files that no longer exist (other than ``keep``'s)."""
    for store_dir in keep.parent.iterdir():
        if store_dir == keep or not store_dir.is_dir():
            continue
        for marker_file in store_dir.glob(f"*/{MARKER}"):
            try:
                store = json.loads(marker_file.read_text(encoding="utf-8"))["store"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if not Path(store).exists():
                logger.info("removing the Cypher mirror of %s (file gone)", store)
                shutil.rmtree(store_dir, ignore_errors=True)
            break


def _build(graph: nx.MultiDiGraph, folder: Path, heap: str, marker: dict[str, Any] | None) -> float:
    """Create the mirror database ``folder/graph``, load ``graph`` into it, close it.

    With ``marker``, write it (plus the build time) to ``folder/mirror.json`` last, so a
    folder with a marker holds a complete mirror. Returns the seconds taken.
    """
    started = time.perf_counter()
    arcadedb = _start_engine(heap)
    db = arcadedb.create_database(str(folder / "graph"))
    try:
        steps = load_graph(db, graph)
    finally:
        db.close()
    seconds = time.perf_counter() - started
    if marker is not None:
        marker = {**marker, "built_at": datetime.now(UTC).isoformat(timespec="seconds")}
        marker.update(build_seconds=round(seconds, 3), build_steps=steps)
        (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    logger.info(
        "Cypher mirror of %d nodes, %d edges built in %.1f s (%s) at %s",
        graph.number_of_nodes(),
        graph.number_of_edges(),
        seconds,
        ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()),
        folder,
    )
    return seconds


def _reason(exc: BaseException) -> str:
    """The engine's own message, without the Java stack and wrapper prefixes."""
    text = str(exc).strip()
    for prefix in ("Query failed: ", "Command failed: "):
        text = text.removeprefix(prefix)
    text = re.sub(r"^(?:[\w.]+(?:Exception|Error):\s*)+", "", text)
    return text.splitlines()[0] if text else type(exc).__name__
