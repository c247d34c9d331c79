"""Ingest: load documents from files and cut them into extractor-sized chunks.

* :mod:`kgbuild.ingest.loaders`: :func:`iter_documents` streams
  :class:`~kgbuild.types.Document` objects (or :class:`LoadFailure` records)
  from .txt, .md, .html, .jsonl, .pdf and .docx files and folders.
* :mod:`kgbuild.ingest.formats`: one loader module per format, registered by
  file extension; :func:`register_loader` adds a format (see :mod:`kgbuild.ingest.base`).
* :mod:`kgbuild.ingest.chunker`: :func:`chunk_document` cuts a document into
  sentence-aware, overlapping :class:`~kgbuild.types.Chunk` windows that fit
  the extractor's token budget.
"""

from kgbuild.ingest.base import (
    LoadError,
    LoadFailure,
    LoadOptions,
    new_document,
    register_loader,
    registered_formats,
    unregister_loader,
)
from kgbuild.ingest.chunker import ChunkerConfig, chunk_document, split_sentences
from kgbuild.ingest.loaders import iter_documents, supported_extensions

__all__ = [
    "ChunkerConfig",
    "LoadError",
    "LoadFailure",
    "LoadOptions",
    "chunk_document",
    "iter_documents",
    "new_document",
    "register_loader",
    "registered_formats",
    "split_sentences",
    "supported_extensions",
    "unregister_loader",
]
