"""Fixtures for the search tests: the deterministic extractor, real documents, both stores."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples" / "docs"
if str(TESTS) not in sys.path:  # tests/fake_extractor.py is a plain module beside the packages
    sys.path.insert(0, str(TESTS))

from fake_extractor import FakeExtractor  # noqa: E402

from kgbuild.store import open_store  # noqa: E402
from kgbuild.store.base import GraphStore  # noqa: E402


@pytest.fixture
def extractor() -> FakeExtractor:
    return FakeExtractor(window=200)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A copy of examples/docs (real HTML, Markdown, text and JSONL) the test may edit."""
    folder = tmp_path / "docs"
    shutil.copytree(EXAMPLES, folder)
    return folder


@pytest.fixture(params=["networkx", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    """An empty, open store of each kind (the Bolt one on the test server)."""
    if request.param == "networkx":
        opened = open_store(tmp_path / "graph.json")
    else:
        server = request.getfixturevalue("empty_bolt_graph")
        opened = open_store(
            server.uri, user=server.user, password=server.password, database=server.database
        )
    with opened:
        yield opened
