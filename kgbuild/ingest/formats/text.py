"""Plain text (.txt, .text): the text as stored, exactly (CRLF kept), in any encoding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kgbuild.ingest.base import LoadError, LoadOptions, new_document, register_loader
from kgbuild.ingest.decoding import read_text_file
from kgbuild.types import Document

__all__ = ["load_text"]


def load_text(path: Path, options: LoadOptions) -> Iterator[Document]:
    """One document: the decoded text (``metadata["encoding"]`` says how it was decoded)."""
    text, encoding = read_text_file(path, options)
    if not text.strip():
        raise LoadError("empty")
    yield new_document(path, text, {"format": "text", "encoding": encoding})


register_loader([".txt", ".text"], load_text, format="text")
