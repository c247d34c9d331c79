"""Word (.docx) with python-docx: paragraphs, headings and tables, in document order.

* Paragraphs are separated by a blank line; empty paragraphs are skipped.
* Headings (paragraph styles "Title", "Heading 1" … "Heading 9") are kept in the text
  and open a :class:`~kgbuild.types.Section` whose ``heading`` is the path of headings
  above it (``"Annual report > Results > Costs"``).
* Tables become one line per row, cells separated by a tab (merged cells once);
  nested tables are read too.

The document title is the core property "title", else the first "Title" paragraph.
Old binary .doc files are not read (save them as .docx).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgbuild.ingest.base import LoadError, LoadOptions, new_document, register_loader
from kgbuild.types import SECTION_SEPARATOR, Document, Section

__all__ = ["docx_blocks", "load_docx"]

_HEADING = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_SPACES = re.compile(r"[^\S\n]+")


def load_docx(path: Path, options: LoadOptions) -> Iterator[Document]:
    """One document: the text of the body, with heading sections."""
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as err:
        raise LoadError("Word support needs python-docx: pip install 'kgbuild[formats]'") from err
    try:
        word = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as err:
        raise LoadError(f"damaged or not a .docx file ({type(err).__name__}: {err})") from None

    parts: list[str] = []
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    offset = 0
    first_title = None
    for level, text in docx_blocks(word):
        if parts:
            parts.append("\n\n")
            offset += 2
        if level is not None:
            if level == 0 and first_title is None:
                first_title = text
            if sections:
                sections[-1] = sections[-1].model_copy(update={"end": offset - 2})
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, text))
            heading = SECTION_SEPARATOR.join(t for _, t in stack)
            sections.append(Section(start=offset, end=offset, heading=heading))
        parts.append(text)
        offset += len(text)
    if sections:
        sections[-1] = sections[-1].model_copy(update={"end": offset})
    text = "".join(parts)
    if not text.strip():
        raise LoadError("empty")
    metadata: dict[str, Any] = {"format": "docx"}
    title = (word.core_properties.title or "").strip() or first_title
    if title:
        metadata["title"] = title
    yield new_document(path, text, metadata, sections)


def docx_blocks(word: Any) -> Iterator[tuple[int | None, str]]:
    """``(heading level or None, text)`` of each non-empty paragraph and table, in order.

    "Title" is level 0, "Heading N" level N; a table is one block of tab-separated rows.
    """
    for block in word.iter_inner_content():
        if hasattr(block, "rows"):
            text = _table_text(block)
            if text:
                yield None, text
            continue
        text = _SPACES.sub(" ", block.text).strip()
        if not text:
            continue
        yield _level(block), text


def _level(paragraph: Any) -> int | None:
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return None
    if name.lower() == "title":
        return 0
    m = _HEADING.match(name)
    return int(m.group(1)) if m else None


def _table_text(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell appears once per grid column
                continue
            seen.add(id(cell._tc))
            texts = [_SPACES.sub(" ", p.text).strip() for p in cell.paragraphs]
            nested = [_table_text(t) for t in cell.tables]
            cells.append(" ".join(t for t in texts + nested if t))
        if any(cells):
            rows.append("\t".join(cells))
    return "\n".join(rows)


register_loader([".docx"], load_docx, format="docx")
