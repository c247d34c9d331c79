"""Ingest: load documents from files and cut them into extractor-sized chunks.

* :mod:`kgbuild.ingest.loaders`: :func:`iter_documents` streams
  :class:`~kgbuild.types.Document` objects (or :class:`LoadFailure` records)
  from .txt, .md, .html and .jsonl files and folders.
* :mod:`kgbuild.ingest.chunker`: :func:`chunk_document` cuts a document into
  sentence-aware, overlapping :class:`~kgbuild.types.Chunk` windows that fit
  the extractor's token budget.
"""

from kgbuild.ingest.chunker import ChunkerConfig, chunk_document, split_sentences
from kgbuild.ingest.loaders import LoadFailure, LoadOptions, iter_documents

__all__ = [
    "ChunkerConfig",
    "LoadFailure",
    "LoadOptions",
    "chunk_document",
    "iter_documents",
    "split_sentences",
]
