"""The Neo4j store's connection: settings, the driver, transactions with retries."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
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
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from kgbuild.store.base import (
    StoreError,
)
from kgbuild.store.neo4j_store.rows import _batches, _plain, _records

logger = logging.getLogger(__name__)


#: URI schemes that select this backend.
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
#: Errors worth another try: the server went away, a cluster member changed, a deadlock.
RETRYABLE = (ServiceUnavailable, SessionExpired, TransientError)
#: Where we look an id up and then CREATE, also: another writer created the same entity in
#: between (the next attempt finds it and updates it instead).
RETRYABLE_CREATE = (*RETRYABLE, ConstraintError)


def is_bolt_uri(store: str) -> bool:
    """True if a STORE string names a Bolt server (``bolt://``, ``neo4j://``, ``neo4j+s://``...)."""
    scheme, sep, _ = store.partition("://")
    return bool(sep) and scheme.lower() in BOLT_SCHEMES


class Neo4jConnection:
    """A Bolt connection with the store's settings: open and check it, run managed
    transactions that retry transient failures, and read queries as plain rows.

    The base of :class:`~kgbuild.store.neo4j_store.Neo4jStore` (see there for the
    arguments); the password is never logged nor shown in errors or ``repr``.
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
        name = type(self).__name__
        return f"{name}(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"

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
