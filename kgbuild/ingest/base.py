"""What every loader shares: options, failures, and the registry of formats by extension.

A *loader* reads one file and yields :class:`~kgbuild.types.Document` objects (one,
or several for a JSONL file). It is registered for one or more file extensions with
:func:`register_loader`; :func:`~kgbuild.ingest.loaders.iter_documents` picks it by
the file's extension. A loader reports a file it cannot use by raising
:class:`LoadError` with the reason (the caller adds the file's name), or by yielding
:class:`LoadFailure` records itself when one file holds many documents.

Adding a format takes one function and one call, without touching the built-in
loaders::

    from kgbuild.ingest import LoadError, new_document, register_loader

    def load_rtf(path, options):
        text = my_rtf_to_text(path.read_bytes())
        if not text.strip():
            raise LoadError("empty")
        yield new_document(path, text, {"format": "rtf"})

    register_loader([".rtf"], load_rtf, format="rtf")

Offsets of everything kgbuild derives (chunks, mentions) refer to the ``text`` given
to :func:`new_document`; ``sections`` (:class:`~kgbuild.types.Section`) say which page
or heading each stretch of that text comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.ids import content_hash, document_id
from kgbuild.types import Document, Section

__all__ = [
    "FileLoader",
    "LoadError",
    "LoadFailure",
    "LoadOptions",
    "LoaderInfo",
    "get_loader",
    "new_document",
    "register_loader",
    "registered_formats",
    "unregister_loader",
]

logger = logging.getLogger("kgbuild.ingest.loaders")


class LoadOptions(BaseModel):
    """How :func:`~kgbuild.ingest.loaders.iter_documents` picks and reads files.

    Glob patterns apply to the files found inside a folder, relative to that
    folder, with ``/`` as separator: ``*`` matches within one path segment,
    ``**`` any number of segments (``**/*.md`` matches ``a.md`` and
    ``x/y/a.md``). A pattern without ``/`` matches the file name at any depth
    (``*.md`` is the same as ``**/*.md``). An ``exclude`` pattern that matches
    a folder skips everything inside it (``build``, ``sub/drafts/**``). Names
    starting with ``.`` are skipped unless ``hidden``. Files named directly in
    ``paths`` are always loaded.
    """

    model_config = ConfigDict(extra="forbid")

    include: list[str] | None = Field(
        default=None, description="Load only files matching one of these globs."
    )
    exclude: list[str] | None = Field(
        default=None, description="Skip files (and folders) matching one of these globs."
    )
    jsonl_text_field: str = "text"
    jsonl_id_field: str = "id"
    max_bytes: int = Field(
        default=50_000_000,
        gt=0,
        description="Larger files are refused; for JSONL the limit applies to each record line.",
    )
    hidden: bool = Field(
        default=False, description="Also walk files and folders whose name starts with '.'."
    )
    encoding: str | None = Field(
        default=None,
        description="Encoding of .txt/.md/.html files; None detects it (BOM, UTF-8, else "
        "charset-normalizer, ties going to Windows-1252).",
    )
    html: Literal["plain", "main"] = Field(
        default="plain",
        description="'plain': all visible text of an HTML file; 'main': only the main content "
        "of a web page (trafilatura; drops navigation, footers, ads; needs kgbuild[formats]).",
    )
    pdf_max_pages: int = Field(
        default=2000, gt=0, description="PDFs with more pages are refused (named in the failure)."
    )


class LoadFailure(BaseModel):
    """A file (or JSONL line) that could not be loaded, and why."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="File URI of the input (the path as given if it is missing).")
    reason: str


class LoadError(Exception):
    """Raised by a loader for a file it cannot use; the message is the reason.

    :func:`~kgbuild.ingest.loaders.iter_documents` turns it into a :class:`LoadFailure`
    naming the file, logs a warning, and goes on with the next file.
    """


#: ``(path, options) -> documents``: reads one file. May raise :class:`LoadError`.
FileLoader = Callable[[Path, LoadOptions], Iterable[Document | LoadFailure]]


@dataclass(frozen=True)
class LoaderInfo:
    """A registered loader: the function, the format name and whether max_bytes is checked."""

    loader: FileLoader
    format: str
    check_size: bool = True


_REGISTRY: dict[str, LoaderInfo] = {}


def _extension(ext: str) -> str:
    ext = ext.strip().lower()
    if not ext or ext == ".":
        raise ValueError(f"not a file extension: {ext!r}")
    return ext if ext.startswith(".") else "." + ext


def register_loader(
    extensions: str | Sequence[str],
    loader: FileLoader,
    *,
    format: str,
    check_size: bool = True,
    replace: bool = False,
) -> None:
    """Use ``loader`` for files with these extensions (case-insensitive, e.g. ``".rtf"``).

    Args:
        extensions: One extension or several, with or without the leading dot.
        loader: ``(path, options) -> iterable of Document`` (see :data:`FileLoader`).
        format: Short format name, recorded by convention in ``Document.metadata["format"]``.
        check_size: Refuse files larger than ``options.max_bytes`` before calling the loader
            (turn off for loaders that stream, like JSONL).
        replace: Allow replacing a loader already registered for an extension.

    Raises:
        ValueError: an extension is already taken and ``replace`` is False.
    """
    exts = [extensions] if isinstance(extensions, str) else list(extensions)
    info = LoaderInfo(loader, format, check_size)
    for ext in map(_extension, exts):
        if ext in _REGISTRY and not replace and _REGISTRY[ext].loader is not loader:
            raise ValueError(
                f"a loader for {ext} is already registered ({_REGISTRY[ext].format}); "
                "pass replace=True to replace it"
            )
        _REGISTRY[ext] = info


def unregister_loader(extensions: str | Sequence[str]) -> None:
    """Forget the loaders of these extensions (files with them are skipped again)."""
    exts = [extensions] if isinstance(extensions, str) else list(extensions)
    for ext in map(_extension, exts):
        _REGISTRY.pop(ext, None)


def get_loader(extension: str) -> LoaderInfo | None:
    """The loader registered for a file extension (``".pdf"``), or None."""
    return _REGISTRY.get(extension.lower())


def registered_formats() -> dict[str, str]:
    """Extension -> format name of every registered loader, sorted by extension."""
    return {ext: _REGISTRY[ext].format for ext in sorted(_REGISTRY)}


def new_document(
    path: Path | str,
    text: str,
    metadata: dict[str, Any] | None = None,
    sections: Iterable[Section] = (),
    *,
    fragment: str | None = None,
) -> Document:
    """A :class:`~kgbuild.types.Document` for a file's text, with its deterministic id.

    The source is the file's URI (plus ``#fragment`` for one of many documents in a
    file); ``metadata["path"]`` is set to the file's path unless given.
    """
    path = Path(path)
    source = path.resolve().as_uri() + (f"#{fragment}" if fragment is not None else "")
    meta = {"path": str(path), **(metadata or {})}
    return Document(
        id=document_id(source),
        source=source,
        text=text,
        content_hash=content_hash(text),
        metadata=meta,
        sections=list(sections),
    )


def fail(source: str, reason: str) -> LoadFailure:
    """A :class:`LoadFailure`, logged as a warning."""
    logger.warning("not loaded: %s: %s", source, reason)
    return LoadFailure(source=source, reason=reason)


def one(document: Document) -> Iterator[Document]:
    """A single document as an iterator (what most loaders return)."""
    yield document
