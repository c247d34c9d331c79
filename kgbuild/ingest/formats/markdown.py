"""Markdown (.md, .markdown): the text as stored; headings give each stretch its section path.

The document's title is the front matter's ``title:``, else its first heading.
:attr:`Document.sections <kgbuild.types.Document.sections>` run from one heading
line to the next, each with the path of headings above it
(``"Guide > Install > Linux"``); headings inside fenced code blocks do not count.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

from kgbuild.ingest.base import LoadError, LoadOptions, new_document, register_loader
from kgbuild.ingest.decoding import read_text_file
from kgbuild.types import SECTION_SEPARATOR, Document, Section

__all__ = ["load_markdown", "markdown_sections", "markdown_title"]

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def load_markdown(path: Path, options: LoadOptions) -> Iterator[Document]:
    """One document: the Markdown source as text, with title and heading sections."""
    text, encoding = read_text_file(path, options)
    if not text.strip():
        raise LoadError("empty")
    metadata = {"format": "markdown", "encoding": encoding}
    if title := markdown_title(text):
        metadata["title"] = title
    yield new_document(path, text, metadata, markdown_sections(text))


def markdown_title(text: str) -> str | None:
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
    for _, _, title in _headings(itertools.chain([first], lines)):
        return title
    return None


def _headings(lines, start: int | None = None) -> Iterator[tuple[int, int, str]]:
    """``(offset of the heading's first line, level, title)`` of each heading.

    ``start`` is the offset of the first line (None: offsets are not needed).
    """
    fence: str | None = None
    previous, previous_at = "", 0
    at = start or 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        here, at = at, at + len(raw)
        if m := _FENCE.match(line):
            fence = None if fence == m.group(1) else (fence or m.group(1))
            previous = ""
            continue
        if fence is not None:
            continue
        if m := _ATX.match(line):
            yield here, len(m.group(1)), m.group(2).strip()
            previous = ""
            continue
        if previous.strip() and (m := _SETEXT.match(line)):
            yield previous_at, 1 if m.group(1).startswith("=") else 2, previous.strip()
            previous = ""
            continue
        previous, previous_at = line, here


def markdown_sections(text: str) -> list[Section]:
    """Sections from each heading to the next, with the heading path above them."""
    lines = io.StringIO(text, newline="")
    body = 0
    first = lines.readline()
    if first.rstrip("\r\n") == "---":  # skip YAML front matter
        body = len(first)
        for line in lines:
            body += len(line)
            if line.rstrip("\r\n") in ("---", "..."):
                break
        else:
            body, lines = 0, io.StringIO(text, newline="")
            first = ""
        first = ""
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    chain = itertools.chain([first] if first else [], lines)
    for offset, level, title in _headings(chain, body):
        if sections:
            sections[-1] = sections[-1].model_copy(update={"end": offset})
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        path = SECTION_SEPARATOR.join(t for _, t in stack)
        sections.append(Section(start=offset, end=len(text), heading=path))
    return sections


register_loader([".md", ".markdown"], load_markdown, format="markdown")
