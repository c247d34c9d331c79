"""Load documents from files and folders, one at a time.

:func:`iter_documents` walks the paths it is given (files, and folders
recursively, in sorted order) and yields a :class:`~kgbuild.types.Document`
for every readable file, or a :class:`LoadFailure` for a file it could not
use. It never raises for one bad file: the failure says which file and why,
and the rest of the collection goes on loading.

The loader is chosen by file extension from a registry
(:func:`~kgbuild.ingest.base.register_loader`); the built-in ones live one per
module in :mod:`kgbuild.ingest.formats`:

* ``.txt``, ``.text``: the text as stored, exactly (CRLF kept).
* ``.md``, ``.markdown``: the same, with the heading path of each section.
* ``.html``, ``.htm``: the visible text (BeautifulSoup), or with
  ``LoadOptions(html="main")`` only the main content of a web page (trafilatura).
* ``.jsonl``: one document per line, read as a stream; the text and id fields
  are configurable (:class:`LoadOptions`).
* ``.pdf`` (pypdfium2) and ``.docx`` (python-docx), with ``kgbuild[formats]``:
  pages and headings become :attr:`Document.sections <kgbuild.types.Document.sections>`.

Text files are decoded by their byte order mark, as UTF-8, or else by detection
(charset-normalizer; Windows-1252, Latin-1, UTF-16 with BOM, ...); the encoding
is recorded in ``Document.metadata["encoding"]``. The text is otherwise kept
exactly, because every mention and chunk offset points into it.

Example::

    for item in iter_documents(["corpus/"], LoadOptions(include=["**/*.md"])):
        if isinstance(item, LoadFailure):
            print("skipped", item.source, item.reason)
        else:
            print(item.id, len(item.text))
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from kgbuild.ingest import formats as _formats  # noqa: F401 - registers the built-in loaders
from kgbuild.ingest.base import (
    LoadError,
    LoadFailure,
    LoadOptions,
    fail,
    get_loader,
    registered_formats,
)
from kgbuild.ingest.formats.html import html_to_text
from kgbuild.types import Document

__all__ = [
    "LoadFailure",
    "LoadOptions",
    "html_to_text",
    "iter_documents",
    "iter_files",
    "load_file",
    "supported_extensions",
]

logger = logging.getLogger(__name__)


def supported_extensions() -> list[str]:
    """File extensions with a registered loader (``[".docx", ".htm", ...]``)."""
    return list(registered_formats())


def iter_documents(
    paths: Iterable[str | Path], options: LoadOptions | None = None
) -> Iterator[Document | LoadFailure]:
    """Yield one :class:`Document` (or :class:`LoadFailure`) at a time from files and folders.

    Folders are walked recursively in sorted order, so the same tree always
    gives the same sequence. A file reached twice (named twice, or named and
    inside a named folder) is loaded once.

    Args:
        paths: Files and folders to load.
        options: File selection, encoding, HTML mode, JSONL fields; defaults to
            :class:`LoadOptions()`.

    Yields:
        A :class:`Document` per loaded file (per record for JSONL), or a
        :class:`LoadFailure` naming the file that could not be loaded and why:
        ``"not found"``, ``"empty"``, ``"skipped: binary/unsupported ..."``,
        ``"too large ..."``, ``"not valid UTF-8 (byte offset N) and no other encoding
        fits ..."``, a format's own reason (``"encrypted (password protected) ..."``,
        ``"no text layer ..."``), or for a JSONL line ``"line N: ..."``.
    """
    options = options or LoadOptions()
    for item in iter_files(paths, options):
        if isinstance(item, LoadFailure):
            yield item
        else:
            yield from load_file(item, options)


def iter_files(
    paths: Iterable[str | Path], options: LoadOptions | None = None
) -> Iterator[Path | LoadFailure]:
    """The files :func:`iter_documents` loads, in its order, without loading them.

    Yields each selected file once (resolved), or a :class:`LoadFailure` for a path
    that does not exist. ``load_file`` on each gives what :func:`iter_documents` yields:
    a distributed run lists the input with this and loads the files on its workers.
    """
    options = options or LoadOptions()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            yield fail(str(raw), "not found")
            continue
        files = _walk(path, options) if path.is_dir() else iter([path])
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            yield resolved


def load_file(path: Path, options: LoadOptions | None = None) -> Iterator[Document | LoadFailure]:
    """The documents of one file (one per JSONL record), or failures naming it; never raises."""
    options = options or LoadOptions()
    try:
        yield from _load_file(path, options)
    except Exception as err:  # one broken file must not stop the collection
        logger.debug("loading %s failed", path, exc_info=True)
        yield fail(path.as_uri(), f"cannot load: {type(err).__name__}: {err}")


# --- file selection ---------------------------------------------------------------------------


def _walk(folder: Path, options: LoadOptions) -> Iterator[Path]:
    """Files under ``folder`` that the options select, lazily, in a fixed order.

    Entries of each folder are sorted by name (code point order, the same on
    every machine) and subfolders are entered where they sort. Symbolic links
    to folders are not followed (no cycles); excluded folders are not entered.
    """
    include = [_glob_regex(p, contents=False) for p in options.include or []]
    exclude = [_glob_regex(p, contents=True) for p in options.exclude or []]
    # A stack of iterators over sorted folder entries, instead of recursion.
    stack = [iter(_sorted_entries(folder))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        if not options.hidden and entry.name.startswith("."):
            continue
        rel = Path(entry.path).relative_to(folder).as_posix()
        if any(rx.match(rel) for rx in exclude):
            continue
        if entry.is_dir(follow_symlinks=False):
            stack.append(iter(_sorted_entries(Path(entry.path))))
        elif not include or any(rx.match(rel) for rx in include):
            yield Path(entry.path)


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as err:
        logger.warning("cannot list folder %s: %s", folder, err.strerror or err)
        return []


@lru_cache(maxsize=256)
def _glob_regex(pattern: str, contents: bool) -> re.Pattern[str]:
    """Compile a glob (``*``, ``**``, ``?``, ``[...]``) to a regex over a relative POSIX path.

    With ``contents``, a pattern that matches a folder also matches everything
    inside it (``build`` or ``build/**`` excludes the whole folder).
    """
    pattern = pattern.strip().lstrip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + ("(?:/.*)?" if contents else "") + r"\Z", re.DOTALL)


# --- one file ---------------------------------------------------------------------------------


def _load_file(path: Path, options: LoadOptions) -> Iterator[Document | LoadFailure]:
    uri = path.as_uri()
    info = get_loader(path.suffix)
    if info is None:
        suffix = path.suffix or "no extension"
        yield fail(uri, f"skipped: binary/unsupported ({suffix}; supported: {_supported()})")
        return
    try:
        if info.check_size:
            size = path.stat().st_size
            if size > options.max_bytes:
                yield fail(uri, f"too large: {size} bytes > max_bytes {options.max_bytes}")
                return
        for item in info.loader(path, options):
            if isinstance(item, Document) and not item.text.strip():
                yield fail(item.source, "empty")
            else:
                yield item
    except LoadError as err:
        yield fail(uri, str(err))
    except OSError as err:
        yield fail(uri, f"cannot read: {err.strerror or err}")


def _supported() -> str:
    return ", ".join(registered_formats())
