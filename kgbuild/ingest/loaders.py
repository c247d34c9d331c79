"""Load documents from files and folders, one at a time.

:func:`iter_documents` walks the paths it is given (files, and folders
recursively, in sorted order) and yields a :class:`~kgbuild.types.Document`
for every readable file, or a :class:`LoadFailure` for a file it could not
use. It never raises for one bad file: the failure says which file and why,
and the rest of the collection goes on loading.

Formats, chosen by file extension:

* ``.txt``, ``.md``, ``.markdown``: the text as stored, exactly (CRLF kept).
* ``.html``, ``.htm``: the visible text, extracted with BeautifulSoup (scripts,
  styles and the ``<head>`` dropped, block elements on their own lines). The
  extracted text becomes ``Document.text``, so every offset refers to it.
* ``.jsonl``: one document per line, read as a stream; the text and id fields
  are configurable (:class:`LoadOptions`).

Text must be UTF-8 (a byte order mark is dropped). Apart from that the text is
kept exactly as stored, because every mention and chunk offset points into it.

Example::

    for item in iter_documents(["corpus/"], LoadOptions(include=["**/*.md"])):
        if isinstance(item, LoadFailure):
            print("skipped", item.source, item.reason)
        else:
            print(item.id, len(item.text))
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.ids import content_hash, document_id
from kgbuild.types import Document

__all__ = ["LoadFailure", "LoadOptions", "iter_documents", "html_to_text"]

logger = logging.getLogger(__name__)

#: File extension -> format name recorded in ``Document.metadata["format"]``.
FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}

#: Leading bytes of common binary formats that may hide behind a text extension.
_MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"PK\x03\x04",  # zip, docx, xlsx, epub
    b"\x1f\x8b",  # gzip
    b"\x7fELF",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
)
_SNIFF_BYTES = 8192


class LoadOptions(BaseModel):
    """How :func:`iter_documents` picks and reads files.

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


class LoadFailure(BaseModel):
    """A file (or JSONL line) that could not be loaded, and why."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="File URI of the input (the path as given if it is missing).")
    reason: str


def iter_documents(
    paths: Iterable[str | Path], options: LoadOptions | None = None
) -> Iterator[Document | LoadFailure]:
    """Yield one :class:`Document` (or :class:`LoadFailure`) at a time from files and folders.

    Folders are walked recursively in sorted order, so the same tree always
    gives the same sequence. A file reached twice (named twice, or named and
    inside a named folder) is loaded once.

    Args:
        paths: Files and folders to load.
        options: File selection and JSONL fields; defaults to :class:`LoadOptions()`.

    Yields:
        A :class:`Document` per loaded file (per record for JSONL), or a
        :class:`LoadFailure` naming the file that could not be loaded and why:
        ``"not found"``, ``"empty"``, ``"not valid UTF-8 (byte offset N)"``,
        ``"skipped: binary/unsupported ..."``, ``"too large ..."``, or for a JSONL
        line ``"line N: ..."``.
    """
    options = options or LoadOptions()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            yield _fail(str(raw), "not found")
            continue
        files = _walk(path, options) if path.is_dir() else iter([path])
        for file in files:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            try:
                yield from _load_file(resolved, options)
            except Exception as err:  # one broken file must not stop the collection
                logger.debug("loading %s failed", resolved, exc_info=True)
                yield _fail(resolved.as_uri(), f"cannot load: {type(err).__name__}: {err}")


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


def _fail(source: str, reason: str) -> LoadFailure:
    logger.warning("not loaded: %s: %s", source, reason)
    return LoadFailure(source=source, reason=reason)


def _load_file(path: Path, options: LoadOptions) -> Iterator[Document | LoadFailure]:
    uri = path.as_uri()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        suffix = path.suffix or "no extension"
        yield _fail(uri, f"skipped: binary/unsupported ({suffix}; supported: {_supported()})")
        return
    try:
        if fmt == "jsonl":
            yield from _load_jsonl(path, uri, options)
            return
        size = path.stat().st_size
        if size > options.max_bytes:
            yield _fail(uri, f"too large: {size} bytes > max_bytes {options.max_bytes}")
            return
        data = path.read_bytes()
    except OSError as err:
        yield _fail(uri, f"cannot read: {err.strerror or err}")
        return

    if (reason := _binary_reason(data[:_SNIFF_BYTES])) is not None:
        yield _fail(uri, reason)
        return
    text = _decode(data, uri)
    if isinstance(text, LoadFailure):
        yield text
        return
    metadata: dict[str, Any] = {"path": str(path), "format": fmt}
    if fmt == "html":
        text, title = html_to_text(text)
    elif fmt == "markdown":
        title = _markdown_title(text)
    else:
        title = None
    if title:
        metadata["title"] = title
    if not text.strip():
        yield _fail(uri, "empty" if fmt != "html" else "empty (no visible text)")
        return
    yield _document(uri, text, metadata)


def _document(source: str, text: str, metadata: dict[str, Any]) -> Document:
    return Document(
        id=document_id(source),
        source=source,
        text=text,
        content_hash=content_hash(text),
        metadata=metadata,
    )


def _supported() -> str:
    return ", ".join(sorted(FORMATS))


def _binary_reason(head: bytes) -> str | None:
    """Why these leading bytes look like binary data, or None if they look like text."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "skipped: binary/unsupported (UTF-16 text; convert it to UTF-8)"
    if head.startswith(_MAGIC):
        return "skipped: binary/unsupported (binary file signature)"
    if b"\x00" in head:
        return "skipped: binary/unsupported (contains NUL bytes)"
    return None


def _decode(data: bytes, uri: str, where: str = "", base: int = 0) -> str | LoadFailure:
    """Strict UTF-8 (a BOM dropped), or a failure naming the file offset of the first bad byte.

    ``base`` is the file offset of ``data`` (for a JSONL line); ``where`` prefixes the reason.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        return _fail(uri, f"{where}not valid UTF-8 (byte offset {base + bom + err.start})")


# --- markdown ---------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _markdown_title(text: str) -> str | None:
    """The front matter's ``title:``, else the first heading (``# Title`` or underlined).

    Headings inside fenced code blocks do not count. Lines are read lazily: a
    large file with an early heading costs little.
    """
    lines = io.StringIO(text, newline="")
    first = lines.readline()
    if first.rstrip("\r\n") == "---":  # YAML front matter
        for line in lines:
            if line.rstrip("\r\n") in ("---", "..."):
                break
            if m := _FRONT_TITLE.match(line):
                return m.group(1).strip().strip("\"'") or None
        first = ""
    fence: str | None = None
    previous = ""
    for line in itertools.chain([first], lines):
        line = line.rstrip("\r\n")
        if m := _FENCE.match(line):
            fence = None if fence == m.group(1) else (fence or m.group(1))
            previous = ""
            continue
        if fence is None:
            if m := _ATX.match(line):
                return m.group(1).strip()
            if previous.strip() and _SETEXT.match(line):
                return previous.strip()
            previous = line
    return None


# --- HTML -------------------------------------------------------------------------------------

#: Elements whose content is never visible text.
_DROP = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "meta", "link", "svg", "iframe"}
)
#: Block elements: their text starts on a new line, separated by a blank line.
_PARAGRAPH = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "details", "dialog",
        "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hgroup", "hr", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "ul",
    }
)  # fmt: skip
#: Block elements that start a new line without a blank line (list items, rows, breaks).
_LINE = frozenset({"br", "dd", "dt", "li", "tr", "option"})
#: Table cells are separated by a tab.
_CELL = frozenset({"td", "th"})
#: Elements whose whitespace is kept as written.
_PRE = frozenset({"pre", "textarea", "listing", "plaintext"})
#: HTML collapses these (not U+00A0, the no-break space).
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")


def html_to_text(html: str) -> tuple[str, str | None]:
    """The visible text of an HTML page, and its title.

    Scripts, styles, comments and the ``<head>`` are dropped; whitespace is
    collapsed as a browser would (kept as written inside ``<pre>``); paragraphs
    and headings are separated by a blank line, list items and table rows by a
    newline, and table cells by a tab.

    Returns:
        ``(text, title)``: title is the ``<title>`` text, else the first ``<h1>``, else None.
    """
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, PreformattedString, Tag

    soup = BeautifulSoup(html, "html.parser")
    title = None
    for tag_name in ("title", "h1"):
        tag = soup.find(tag_name)
        if isinstance(tag, Tag):
            title = _HTML_SPACE.sub(" ", tag.get_text()).strip() or None
            if title:
                break

    text = _TextBuilder()
    # Iterative walk (deeply nested pages would overflow recursion); a tuple marks a closing tag.
    stack: list[Any] = [soup]
    pre_depth = 0
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            name = node[1]
            pre_depth -= name in _PRE
            text.separate(_separator(name))
        elif isinstance(node, PreformattedString):  # comment, doctype, CDATA, ...
            continue
        elif isinstance(node, NavigableString):
            text.add(str(node), pre=pre_depth > 0)
        elif isinstance(node, Tag) and node.name not in _DROP:
            text.separate(_separator(node.name))
            pre_depth += node.name in _PRE
            stack.append(("close", node.name))
            stack.extend(reversed(node.contents))
    return text.getvalue(), title


def _separator(tag_name: str) -> str:
    if tag_name in _PARAGRAPH:
        return "\n\n"
    if tag_name in _LINE:
        return "\n"
    if tag_name in _CELL:
        return "\t"
    return ""


class _TextBuilder:
    """Joins text nodes: the strongest separator between two pieces of text wins."""

    _RANK = {"": 0, " ": 1, "\t": 2, "\n": 3, "\n\n": 4}

    def __init__(self) -> None:
        self._out: list[str] = []
        self._pending = ""

    def separate(self, sep: str) -> None:
        if self._RANK[sep] > self._RANK[self._pending]:
            self._pending = sep

    def add(self, s: str, pre: bool = False) -> None:
        if not pre:
            s = _HTML_SPACE.sub(" ", s)
            if s.startswith(" "):
                self.separate(" ")
            trailing = s.endswith(" ")
            s = s.strip(" ")
            if not s:
                return
        if self._out:  # never start the text with a separator
            self._out.append(self._pending)
        self._out.append(s)
        self._pending = " " if not pre and trailing else ""

    def getvalue(self) -> str:
        return "".join(self._out)


# --- JSONL ------------------------------------------------------------------------------------


def _load_jsonl(path: Path, uri: str, options: LoadOptions) -> Iterator[Document | LoadFailure]:
    """One document per line; a bad line gives a failure naming it and the rest go on."""
    text_field, id_field = options.jsonl_text_field, options.jsonl_id_field
    first_line_of: dict[str, int] = {}  # fragment -> line, to refuse duplicate ids
    records = 0  # non-blank lines
    byte_offset = 0
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
        fh.seek(0)
        if (reason := _binary_reason(head)) is not None:
            yield _fail(uri, reason)
            return
        for line_no, raw in enumerate(fh, start=1):
            base, byte_offset = byte_offset, byte_offset + len(raw)
            if not raw.strip():
                continue
            records += 1
            where = f"line {line_no}: "
            if len(raw) > options.max_bytes:
                yield _fail(uri, f"{where}too large: {len(raw)} bytes > max_bytes")
                continue
            line = _decode(raw, uri, where=where, base=base)
            if isinstance(line, LoadFailure):
                yield line
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                problem = err.msg.removesuffix(" at")
                yield _fail(uri, f"{where}not valid JSON ({problem} at column {err.colno})")
                continue
            if not isinstance(record, dict):
                yield _fail(uri, f"{where}not a JSON object")
                continue
            text = record.get(text_field)
            if not isinstance(text, str):
                problem = "missing" if text is None else "not a string"
                yield _fail(uri, f"{where}text field {text_field!r} {problem}")
                continue
            if not text.strip():
                yield _fail(uri, f"{where}empty")
                continue
            raw_id = record.get(id_field)
            if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id):
                fragment = quote(str(raw_id), safe="-._~!$&'()*+,;=:@/?")
            else:
                fragment = str(line_no)
            if fragment in first_line_of:
                yield _fail(
                    uri,
                    f"{where}duplicate id {fragment!r} (first on line {first_line_of[fragment]})",
                )
                continue
            first_line_of[fragment] = line_no
            metadata: dict[str, Any] = {
                key: value
                for key, value in record.items()
                if key != text_field and isinstance(value, str | int | float | bool)
            }
            # The loader's own keys win over record fields of the same name.
            metadata.update({"path": str(path), "format": "jsonl", "line": line_no})
            yield _document(f"{uri}#{fragment}", text, metadata)
    if records == 0:
        yield _fail(uri, "empty")
