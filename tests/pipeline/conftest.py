"""Fixtures for the pipeline tests: the deterministic extractor, data folders, a fixed clock."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
if str(TESTS) not in sys.path:  # tests/fake_extractor.py is a plain module beside the packages
    sys.path.insert(0, str(TESTS))

from fake_extractor import FakeExtractor  # noqa: E402

from kgbuild.store import networkx_store as networkx_store_module  # noqa: E402

FIXED_TIME = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """``ingested_at`` is the only property that differs between two identical ingests."""
    monkeypatch.setattr(networkx_store_module, "_utc_now", lambda: FIXED_TIME)


@pytest.fixture
def extractor() -> FakeExtractor:
    return FakeExtractor()


@pytest.fixture(scope="session")
def unicode_dir() -> Path:
    """Real documents with accents, a decomposed é, CRLF line ends, CJK and emoji."""
    return DATA / "unicode"


@pytest.fixture(scope="session")
def pipeline_dir() -> Path:
    """HTML (entities, nbsp, emoji) and JSONL (CJK, emoji, CRLF inside a record)."""
    return DATA / "pipeline"
