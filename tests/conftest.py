"""Fixtures shared by the whole test suite.

The Bolt test server
--------------------
Tests of the Neo4j backend run against a real server speaking Bolt: a local ArcadeDB
started by ``scripts/test-server start`` (``.ci/run`` does this). Its address and
credentials come from the environment (``KGBUILD_TEST_BOLT_URI``, ``_USER``,
``_PASSWORD``, ``_DATABASE``) or, when those are unset, from the ``env`` file the script
writes (``.test-server/env``, or ``$KGBUILD_TEST_SERVER_DIR/env``).

When no server answers, tests that need one are skipped with the reason shown, except
under ``CI=true``, where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENV_KEYS = ("URI", "USER", "PASSWORD", "DATABASE")


@dataclass(frozen=True)
class BoltServer:
    """Where the running test server is; ``password`` stays out of ``repr``."""

    uri: str
    user: str
    password: str = field(repr=False)
    database: str | None = None


def _state_dir() -> Path:
    return Path(os.environ.get("KGBUILD_TEST_SERVER_DIR") or REPO / ".test-server")


def read_server_env(env_file: Path) -> dict[str, str]:
    """The KEY=value lines of a test-server env file (quotes as ``shlex`` wrote them)."""
    import shlex

    values = {}
    for line in env_file.read_text().splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and key.strip():
            values[key.strip()] = "".join(shlex.split(value)) if value else ""
    return values


def _server_settings() -> tuple[dict[str, str] | None, str]:
    """Settings from the environment or the env file, and where they came from."""
    prefix = "KGBUILD_TEST_BOLT_"
    if os.environ.get(prefix + "URI"):
        return {k: os.environ.get(prefix + k, "") for k in ENV_KEYS}, "the environment"
    env_file = _state_dir() / "env"
    if env_file.is_file():
        values = read_server_env(env_file)
        return {k: values.get(prefix + k, "") for k in ENV_KEYS}, str(env_file)
    return None, f"no {prefix}URI in the environment and no {env_file}"


def _unavailable(reason: str) -> None:
    message = f"Bolt test server not available ({reason}); start it with: scripts/test-server start"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} [CI=true: Neo4j tests must run, not skip]", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def bolt_server() -> BoltServer:
    """The running Bolt test server (skips, or fails under CI=true, when there is none)."""
    settings, origin = _server_settings()
    if settings is None:
        _unavailable(origin)
    server = BoltServer(
        uri=settings["URI"],
        user=settings["USER"] or "neo4j",
        password=settings["PASSWORD"],
        database=settings["DATABASE"] or None,
    )
    from neo4j import GraphDatabase

    try:
        with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
            driver.execute_query("RETURN 1", database_=server.database)
    except Exception as exc:  # noqa: BLE001 - any failure: the server is not usable
        _unavailable(f"{server.uri} from {origin} did not answer RETURN 1: {type(exc).__name__}")
    return server


def wipe_bolt_graph(server: BoltServer, batch: int = 2000) -> None:
    """Delete every node and relationship, in batches (one huge DETACH DELETE is slow)."""
    from neo4j import GraphDatabase

    with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
        while True:
            records, _, _ = driver.execute_query(
                "MATCH (n) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS n",
                batch=batch,
                database_=server.database,
            )
            if not records or records[0]["n"] == 0:
                return


@pytest.fixture
def empty_bolt_graph(bolt_server: BoltServer) -> Iterator[BoltServer]:
    """The test server with an empty graph: tests never see each other's data.

    Keep test graphs small: the graph is wiped before the test, not after, so a failing
    test leaves its data behind for inspection.
    """
    wipe_bolt_graph(bolt_server)
    yield bolt_server
