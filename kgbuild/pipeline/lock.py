"""One ingest run at a time per store: a lock file beside a NetworkX graph, a lock node in Neo4j.

Two runs writing the same store at once could interleave (one prunes what the other
is writing; with a NetworkX file, the last save wins and the other run's work is
lost). :class:`~kgbuild.pipeline.builder.KnowledgeGraphBuilder` therefore holds the
store's *run lock* for the whole of :meth:`~kgbuild.pipeline.builder.KnowledgeGraphBuilder.ingest`,
and a second run either fails at once with :class:`LockHeld`, naming the run that holds
the lock, or waits for it (``BuildConfig(lock_wait=SECONDS)``).

NetworkX (``graph.json``)
    An OS file lock (``flock`` / ``LockFileEx`` through the ``filelock`` package) on
    ``.graph.json.lock`` beside the graph (hidden, so a store kept inside an ingested
    folder does not add a file to skip). The holder writes its host, pid and start time
    into that file so a second run can say who holds it. The operating system drops the
    lock when its process dies, SIGKILL included, so a stale lock cannot exist. The
    graph is loaded after the lock is taken and saved before it is released; a store
    opened before the lock is reloaded if the file changed since, so a run never writes
    over another run's work.

Neo4j (``bolt://...``)
    A helper node ``(:_KgbuildLock {id: "ingest"})`` under a uniqueness constraint,
    created with ``MERGE`` and holding the owner's host, pid, start time, a random token
    and ``expires_at`` (server time, ms). A heartbeat thread pushes ``expires_at``
    forward every ``ttl / 3`` seconds; releasing deletes the node. A run that was
    killed leaves its node behind: another run takes it over once it expires (default
    ``ttl`` 120 s, ``$KGBUILD_LOCK_TTL``), or at once when the owner ran on the same
    host and its process is gone. The label starts with ``_``: no entity type maps to
    it, and ``counts()`` and the queries in ``cypher/`` never see it. It exists only
    while a run holds the lock.

Example::

    from kgbuild.pipeline.lock import LockHeld, locked_store

    try:
        with locked_store("graph.json", wait=30) as store:
            print(store.counts())
    except LockHeld as exc:
        print(exc)   # graph.json is locked by another kgbuild run (pid 4242 on host ...)
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kgbuild._version import __version__
from kgbuild.store.base import GraphStore, StoreError

__all__ = [
    "DEFAULT_TTL",
    "LOCK_LABEL",
    "LOCK_TTL_ENV",
    "FileRunLock",
    "LockHeld",
    "LockOwner",
    "Neo4jRunLock",
    "RunLock",
    "locked_store",
    "run_lock",
]

logger = logging.getLogger(__name__)

#: Seconds a Neo4j lock stays valid without a heartbeat (a killed run's lock expires).
DEFAULT_TTL = 120.0
#: Environment variable overriding :data:`DEFAULT_TTL` (seconds).
LOCK_TTL_ENV = "KGBUILD_LOCK_TTL"
#: Label of the Neo4j lock node (a leading '_': no entity type maps to it).
LOCK_LABEL = "_KgbuildLock"
#: The lock node's id: one ingest lock per database.
LOCK_ID = "ingest"
#: The advice every LockHeld message ends with.
_WHAT_TO_DO = "wait for it to finish and run again (from Python, lock_wait=SECONDS waits)"


class LockOwner(BaseModel):
    """Who holds (or tries to take) a run lock."""

    host: str
    pid: int
    started_at: str
    token: str
    kgbuild_version: str = ""
    #: Neo4j only: when the lock expires unless renewed (server time, ms since the epoch).
    expires_at: int | None = None

    @classmethod
    def this_process(cls) -> LockOwner:
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            token=uuid.uuid4().hex,
            kgbuild_version=__version__,
        )

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started_at}"

    def is_dead_local_process(self) -> bool:
        """True when the owner ran on this host and its process no longer exists."""
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # PermissionError: alive, another user's
            return False
        return False


class LockHeld(StoreError):
    """Another run holds the store's run lock; the message names it and what to do."""

    def __init__(self, message: str, owner: LockOwner | None = None) -> None:
        super().__init__(message)
        self.owner = owner


class RunLock:
    """The run lock of one store: :meth:`acquire`, then :meth:`release`.

    Subclasses implement the two for their backend; this base class is the no-op lock
    of stores that need none (a NetworkX graph kept in memory only).
    """

    def __init__(self) -> None:
        self.owner = LockOwner.this_process()
        self.held = False

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds; :class:`LockHeld` if still held."""
        self.held = True

    def release(self) -> None:
        """Give the lock back (safe to call when not held)."""
        self.held = False


# -- NetworkX: a lock file -------------------------------------------------------------------


class FileRunLock(RunLock):
    """An OS file lock on ``.<graph file name>.lock``, holding its owner's details as JSON."""

    def __init__(self, graph_path: str | os.PathLike[str]) -> None:
        super().__init__()
        from filelock import FileLock

        self.graph_path = Path(graph_path)
        self.path = self.graph_path.with_name(f".{self.graph_path.name}.lock")
        self._lock = FileLock(str(self.path))

    def acquire(self, wait: float = 0.0) -> None:
        from filelock import Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        holder = self._read_owner()
        if wait > 0 and holder is not None:
            logger.info(
                "waiting up to %.0f s for the lock on %s (%s)",
                wait,
                self.graph_path,
                holder.describe(),
            )
        try:
            self._lock.acquire(timeout=wait, poll_interval=min(0.5, max(wait / 10, 0.05)))
        except Timeout:
            holder = self._read_owner()
            who = holder.describe() if holder else "its details are not readable"
            waited = f" (waited {wait:.0f} s)" if wait > 0 else ""
            raise LockHeld(
                f"{self.graph_path} is locked by another kgbuild run ({who}){waited}: "
                f"{_WHAT_TO_DO}; lock file {self.path}",
                holder,
            ) from None
        self.held = True
        # Rewrite in place (not by rename): the OS lock belongs to this file's inode.
        try:
            with open(self.path, "r+", encoding="utf-8") as f:
                f.truncate(0)
                f.write(self.owner.model_dump_json())
        except OSError as exc:  # e.g. Windows refuses writes to a locked byte range
            logger.debug("could not record the lock's owner in %s: %s", self.path, exc)
        logger.debug("locked %s", self.path)

    def release(self) -> None:
        if not self.held:
            return
        try:
            with open(self.path, "r+", encoding="utf-8") as f:
                f.truncate(0)
        except OSError:
            pass  # the details are a courtesy; the OS lock is what matters
        self._lock.release()
        self.held = False
        logger.debug("unlocked %s", self.path)

    def _read_owner(self) -> LockOwner | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
            return LockOwner.model_validate_json(text) if text else None
        except (OSError, ValueError):
            return None


# Per NetworkX store object: the graph file's (inode, size, mtime) when this process last
# had the store in step with it, under the lock. A store opened before the lock is reloaded
# unless the file still has that signature.
_in_step: weakref.WeakKeyDictionary[GraphStore, tuple[int, int, int] | None] = (
    weakref.WeakKeyDictionary()
)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _bring_in_step(store: Any) -> None:
    """Reload a NetworkX store opened before the lock if its file changed since."""
    if not getattr(store, "_opened", False):
        return  # it loads lazily, under the lock
    if getattr(store, "_dirty", False):
        logger.warning(
            "%s was changed in memory before the run lock was taken: not reloading it", store
        )
        return
    if store in _in_step and _in_step[store] == _signature(store.path):
        return
    logger.info("reloading %s under the run lock", store.path)
    reload = getattr(store, "reload", None)
    if callable(reload):
        reload()
    else:  # NetworkXStore.open() loads once; reset it so it reads the file again
        import networkx as nx

        store._opened = False
        store.graph = nx.MultiDiGraph()
        store.open()


def _flush(store: Any) -> None:
    """Save a NetworkX store's changes while the lock is still held."""
    if getattr(store, "_opened", False) and getattr(store, "_dirty", True):
        store.save()
    if getattr(store, "_opened", False):
        _in_step[store] = _signature(store.path)


# -- Neo4j: a lock node ---------------------------------------------------------------------

_CONSTRAINT = (
    f"CREATE CONSTRAINT kgbuild_lock_id IF NOT EXISTS FOR (n:`{LOCK_LABEL}`) REQUIRE n.id IS UNIQUE"
)
# Setting a property first makes this transaction the node's writer: on Neo4j a second
# contender blocks until the first commits, then reads the committed owner; on servers
# with optimistic concurrency (ArcadeDB) the loser fails with a transient error and retries.
_TRY = f"""
MERGE (l:`{LOCK_LABEL}` {{id: $id}})
SET l.attempted_at = timestamp()
RETURN properties(l) AS lock, timestamp() AS now
"""
_TAKE = f"""
MATCH (l:`{LOCK_LABEL}` {{id: $id}})
SET l += $owner, l.acquired_at = timestamp(), l.expires_at = timestamp() + $ttl_ms
RETURN l.expires_at AS expires_at
"""
_RENEW = f"""
MATCH (l:`{LOCK_LABEL}` {{id: $id}}) WHERE l.token = $token
SET l.expires_at = timestamp() + $ttl_ms
RETURN count(l) AS n
"""
_RELEASE = f"MATCH (l:`{LOCK_LABEL}` {{id: $id}}) WHERE l.token = $token DELETE l"


def lock_ttl() -> float:
    """The Neo4j lock's time to live in seconds: ``$KGBUILD_LOCK_TTL`` or :data:`DEFAULT_TTL`."""
    raw = os.environ.get(LOCK_TTL_ENV, "").strip()
    if not raw:
        return DEFAULT_TTL
    try:
        ttl = float(raw)
    except ValueError:
        raise ValueError(f"{LOCK_TTL_ENV}={raw!r}: expected a number of seconds") from None
    if ttl < 1:
        raise ValueError(f"{LOCK_TTL_ENV}={raw!r}: use at least 1 second")
    return ttl


class Neo4jRunLock(RunLock):
    """A lock node in the store's database, renewed by a heartbeat thread while held.

    Args:
        store: An open :class:`~kgbuild.store.neo4j_store.Neo4jStore` (its driver is used).
        ttl: Seconds the lock stays valid without renewal (default :func:`lock_ttl`).
        on_lost: Called (from the heartbeat thread) if the lock is lost: renewals failed
            until it expired, or another run took it over after it had expired.
    """

    def __init__(
        self, store: Any, ttl: float | None = None, on_lost: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self.store = store
        self.ttl = ttl if ttl is not None else lock_ttl()
        self.on_lost = on_lost
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    def _run(self, work: Callable[[Any], Any], *, attempts: int = 8) -> Any:
        """A write transaction, retried on contention (transient and constraint errors,
        and a lock node deleted under a concurrent MERGE)."""
        from neo4j.exceptions import (
            ClientError,
            ConstraintError,
            ServiceUnavailable,
            TransientError,
        )

        for attempt in range(attempts):
            try:
                with self.store.driver.session(database=self.store.database) as session:
                    return session.execute_write(work)
            except (TransientError, ConstraintError, ServiceUnavailable, ClientError) as exc:
                # ArcadeDB answers a MERGE that races the holder's release (which deletes
                # the node) with EntityNotFound (seen once in CI); other client errors are
                # real errors (ConstraintError is a ClientError too)
                contention = (
                    not isinstance(exc, ClientError)
                    or isinstance(exc, ConstraintError)
                    or exc.code == "Neo.ClientError.Statement.EntityNotFound"
                )
                if not contention or attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _setup(self) -> None:
        with self.store.driver.session(database=self.store.database) as session:
            session.run(_CONSTRAINT).consume()

    def _try(self) -> tuple[LockOwner | None, int]:
        """One attempt: (None, server time) when taken, else (the holder, server time)."""
        mine = self.owner

        def work(tx: Any) -> tuple[LockOwner | None, int]:
            row = tx.run(_TRY, id=LOCK_ID).single()
            lock, now = row["lock"], row["now"]
            holder = _owner_of(lock)
            if holder is not None and holder.token != mine.token:
                expired = holder.expires_at is None or holder.expires_at < now
                if not expired and not holder.is_dead_local_process():
                    return holder, now
                logger.warning(
                    "taking over the run lock of %s: %s",
                    holder.describe(),
                    "it expired" if expired else "its process is gone",
                )
            owner = mine.model_dump(exclude={"expires_at"})
            row = tx.run(_TAKE, id=LOCK_ID, owner=owner, ttl_ms=self._ttl_ms).single()
            mine.expires_at = row["expires_at"]
            return None, now

        return self._run(work)

    def acquire(self, wait: float = 0.0) -> None:
        self._setup()
        deadline = time.monotonic() + wait
        announced = False
        while True:
            holder, now = self._try()
            if holder is None:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                left = ""
                if holder.expires_at is not None:
                    seconds = max(0, (holder.expires_at - now) / 1000)
                    left = f"; its lock expires in {seconds:.0f} s unless that run renews it"
                waited = f" (waited {wait:.0f} s)" if wait > 0 else ""
                raise LockHeld(
                    f"{self.store.uri} is locked by another kgbuild run ({holder.describe()})"
                    f"{waited}{left}: {_WHAT_TO_DO}; lock node (:{LOCK_LABEL} "
                    f"{{id: {LOCK_ID!r}}})",
                    holder,
                )
            if not announced:
                logger.info("waiting up to %.0f s for the run lock (%s)", wait, holder.describe())
                announced = True
            time.sleep(min(1.0, remaining))
        self.held = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._heartbeat, name="kgbuild-lock", daemon=True)
        self._thread.start()
        logger.debug("took the run lock of %s", self.store.uri)

    def _heartbeat(self) -> None:
        interval = self.ttl / 3
        last_renewed = time.monotonic()
        while not self._stop.wait(interval):
            try:
                renewed = self._run(
                    lambda tx: tx.run(
                        _RENEW, id=LOCK_ID, token=self.owner.token, ttl_ms=self._ttl_ms
                    ).single()["n"],
                    attempts=3,
                )
            except Exception as exc:  # noqa: BLE001 - keep trying until the lock expires
                logger.warning("renewing the run lock failed: %s", exc)
                if time.monotonic() - last_renewed < self.ttl:
                    continue
                renewed = 0
            if renewed:
                last_renewed = time.monotonic()
                continue
            logger.error(
                "lost the run lock of %s (not renewed within %.0f s, or taken over): stopping "
                "after the documents in flight",
                self.store.uri,
                self.ttl,
            )
            self.lost.set()
            if self.on_lost is not None:
                self.on_lost()
            return

    def release(self) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self._run(lambda tx: tx.run(_RELEASE, id=LOCK_ID, token=self.owner.token).consume())
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            logger.warning(
                "could not release the run lock (it expires in %.0f s): %s", self.ttl, exc
            )
        self.held = False
        logger.debug("released the run lock of %s", self.store.uri)


def _owner_of(lock: dict[str, Any]) -> LockOwner | None:
    if not lock.get("token"):
        return None
    try:
        fields = {k: lock[k] for k in LockOwner.model_fields if lock.get(k) is not None}
        return LockOwner.model_validate(fields)
    except ValueError:
        # Written by something else: treat it as held until it expires.
        return LockOwner(
            host=str(lock.get("host", "?")),
            pid=-1,
            started_at=str(lock.get("started_at", "?")),
            token=str(lock["token"]),
            expires_at=lock.get("expires_at"),
        )


# -- choosing and holding ---------------------------------------------------------------------


def _lock_for(store: GraphStore, on_lost: Callable[[], None] | None) -> RunLock:
    from kgbuild.store.networkx_store import NetworkXStore

    if isinstance(store, NetworkXStore):
        return FileRunLock(store.path) if store.path is not None else RunLock()
    # A Neo4jStore exists only if its module was imported: no need to load the driver here.
    neo4j_store = sys.modules.get("kgbuild.store.neo4j_store")
    if neo4j_store is not None and isinstance(store, neo4j_store.Neo4jStore):
        return Neo4jRunLock(store, on_lost=on_lost)
    logger.debug("%r has no run lock: concurrent runs are not prevented", store)
    return RunLock()


@contextmanager
def run_lock(
    store: GraphStore, *, wait: float = 0.0, on_lost: Callable[[], None] | None = None
) -> Iterator[RunLock]:
    """Hold ``store``'s run lock while the body runs.

    A NetworkX store is brought in step with its file when the lock is taken (reloaded
    if it was opened before and the file changed since) and saved before the lock is
    released; a Neo4j store is opened if it is not yet. The store stays open afterwards:
    closing it is the caller's business.

    Raises:
        LockHeld: another run holds the lock (after waiting ``wait`` seconds).
    """
    from kgbuild.store.networkx_store import NetworkXStore

    networkx = isinstance(store, NetworkXStore) and store.path is not None
    lock = _lock_for(store, on_lost)
    if isinstance(lock, Neo4jRunLock):
        store.open()  # idempotent; the lock lives in the database
    lock.acquire(wait)
    try:
        if networkx:
            _bring_in_step(store)
        yield lock
    finally:
        try:
            if networkx:
                # Also after an error: what was written is consistent (each document is
                # all-or-redo), and saving later, outside the lock, could overwrite
                # another run's work.
                _flush(store)
        finally:
            lock.release()


@contextmanager
def locked_store(
    store: GraphStore | str | os.PathLike[str],
    *,
    wait: float = 0.0,
    on_lost: Callable[[], None] | None = None,
) -> Iterator[GraphStore]:
    """The store, open and locked for one run; a store named by a string is closed after.

    The order matters and differs by backend: a NetworkX file is locked *before* it is
    loaded and saved *before* the lock is released; a Neo4j store is connected first
    (the lock lives in the database) and disconnected last.
    """
    if isinstance(store, GraphStore):
        with run_lock(store, wait=wait, on_lost=on_lost):
            yield store
        return
    from kgbuild.store import open_store

    opened = open_store(str(store))
    try:
        with run_lock(opened, wait=wait, on_lost=on_lost):
            yield opened
    finally:
        opened.close()
