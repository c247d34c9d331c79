"""Fixtures shared by the whole test suite.

The Bolt test server
--------------------
Tests of the Neo4j backend run against a real server speaking Bolt: a local ArcadeDB
started by ``scripts/test-server start`` (``.ci/run`` does this). Its address and
credentials come from the environment (``KGBUILD_TEST_BOLT_URI``, ``_USER``,
``_PASSWORD``, ``_DATABASE``) or, when those are unset, from the ``env`` file the script
writes (``.test-server/env``, or ``$KGBUILD_TEST_SERVER_DIR/env``).

Each pytest session gets a database of its own on that server (created through
ArcadeDB's HTTP API, ``KGBUILD_TEST_ARCADEDB_HTTP``, and dropped at the end), so two
test runs sharing the server, e.g. two developers in one checkout, never wipe each
other's graphs. Against another Bolt server (no HTTP API given), the configured
database is used as it is: it must be one the tests may wipe.

When no server answers, tests that need one are skipped with the reason shown, except
under ``CI=true``, where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PREFIX = "KGBUILD_TEST_BOLT_"
ENV_KEYS = ("URI", "USER", "PASSWORD", "DATABASE")
HTTP_KEY = "KGBUILD_TEST_ARCADEDB_HTTP"


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
    """The KEY=value lines of a test-server env file (quoted as ``shlex`` quotes)."""
    values = {}
    for line in env_file.read_text().splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and key.strip():
            values[key.strip()] = "".join(shlex.split(value)) if value else ""
    return values


def _server_settings() -> tuple[dict[str, str] | None, str]:
    """Settings from the environment or the env file, and where they came from."""
    if os.environ.get(PREFIX + "URI"):
        values = {k: os.environ.get(PREFIX + k, "") for k in ENV_KEYS}
        values["HTTP"] = os.environ.get(HTTP_KEY, "")
        return values, "the environment"
    env_file = _state_dir() / "env"
    if env_file.is_file():
        found = read_server_env(env_file)
        values = {k: found.get(PREFIX + k, "") for k in ENV_KEYS}
        values["HTTP"] = found.get(HTTP_KEY, "")
        return values, str(env_file)
    return None, f"no {PREFIX}URI in the environment and no {env_file}"


def _unavailable(reason: str) -> None:
    message = f"Bolt test server not available ({reason}); start it with: scripts/test-server start"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} [CI=true: Neo4j tests must run, not skip]", pytrace=False)
    pytest.skip(message)


def arcadedb_command(http_url: str, user: str, password: str, command: str) -> None:
    """Run a server command (e.g. ``create database x``) through ArcadeDB's HTTP API."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        http_url.rstrip("/") + "/api/v1/server",
        data=json.dumps({"command": command}).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the Bolt server ``neo4j`` (deselect: ``-m "not neo4j"``)."""
    for item in items:
        if "bolt_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.neo4j)


@pytest.fixture(scope="session", autouse=True)
def kgbuild_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """kgbuild's cache (the NetworkX store's kept Cypher mirrors, the extractor's exported
    ONNX graphs) in a folder of this test session, also for the CLI processes tests start,
    never the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("kgbuild-cache")
    previous = os.environ.get("KGBUILD_CACHE_DIR")
    os.environ["KGBUILD_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("KGBUILD_CACHE_DIR", None)
    else:
        os.environ["KGBUILD_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def bolt_server() -> Iterator[BoltServer]:
    """The running Bolt test server, on a database of this session's own.

    Skips (fails under CI=true) when there is no server.
    """
    settings, origin = _server_settings()
    if settings is None:
        _unavailable(origin)
    user, password = settings["USER"] or "neo4j", settings["PASSWORD"]
    database = settings["DATABASE"] or None
    own_database = None
    if settings["HTTP"]:
        own_database = f"kgbuild_test_{os.getpid()}_{secrets.token_hex(4)}"
        try:
            arcadedb_command(settings["HTTP"], user, password, f"create database {own_database}")
        except (OSError, urllib.error.URLError) as exc:
            _unavailable(f"cannot create a test database at {settings['HTTP']}: {exc}")
        database = own_database
    server = BoltServer(uri=settings["URI"], user=user, password=password, database=database)

    from neo4j import GraphDatabase

    try:
        with GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver:
            driver.execute_query("RETURN 1", database_=server.database)
    except Exception as exc:  # noqa: BLE001 - any failure: the server is not usable
        _unavailable(f"{server.uri} from {origin} did not answer RETURN 1: {type(exc).__name__}")
    yield server
    if own_database:
        try:
            arcadedb_command(settings["HTTP"], user, password, f"drop database {own_database}")
        except (OSError, urllib.error.URLError):
            pass  # the server is gone or stopping; its data directory goes with it


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
def wipe_graph():
    """:func:`wipe_bolt_graph`, for tests that empty the graph again mid-test."""
    return wipe_bolt_graph


@pytest.fixture
def empty_bolt_graph(bolt_server: BoltServer) -> Iterator[BoltServer]:
    """The test server with an empty graph: tests never see each other's data.

    Keep test graphs small: the graph is wiped before the test, not after, so a failing
    test leaves its data behind for inspection.
    """
    wipe_bolt_graph(bolt_server)
    yield bolt_server
