"""PDF (.pdf) with pypdfium2 (PDFium's text layer; Apache-2.0 / BSD-3-Clause).

What the text of a PDF document is:

* **Pages in order**, separated by a blank line; each page is one
  :class:`~kgbuild.types.Section` with its 1-based ``page``, so chunks and mentions
  know their page.
* **Reading order** as PDFium gives it: the order of the text in the page's content
  stream, which for generated documents (word processors, LaTeX, reports) is the
  reading order, column by column.
* **Hyphenation joined**: a word broken at a line end (``"exam-"`` / ``"ple"``) becomes
  ``"example"`` when the next line goes on in lower case; before a capital the hyphen
  stays (``"Skłodowska-Curie"``).
* **Running headers and footers dropped**: a line among the first or last
  :data:`EDGE_LINES` lines of a page that recurs, numbers aside, on at least
  :data:`REPEAT_SHARE` of the pages of a document of :data:`MIN_PAGES_FOR_REPEATS`
  pages or more ("ACME report — page 3 of 9").

Per-file failures, each naming the reason: encrypted (password protected), damaged
or not a PDF, no text layer at all (scanned / image-only: run OCR first), more pages
than ``LoadOptions.pdf_max_pages``. Pages without text in an otherwise textual PDF
are logged and listed in ``metadata["pages_without_text"]``.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgbuild.ingest.base import LoadError, LoadOptions, new_document, register_loader
from kgbuild.types import Document, Section

__all__ = ["load_pdf", "page_texts", "pdf_text"]

logger = logging.getLogger(__name__)

#: How many lines at the top and at the bottom of a page may be a running header/footer.
EDGE_LINES = 2
#: Share of the pages a line must recur on to count as a running header/footer.
REPEAT_SHARE = 0.6
#: Fewer pages than this: nothing is dropped (one repeat proves little).
MIN_PAGES_FOR_REPEATS = 3
#: Between pages.
PAGE_SEPARATOR = "\n\n"

#: PDFium marks a hyphen at a line end as U+FFFE (older builds: U+0002) and drops the break.
_SOFT_HYPHEN = re.compile(r"[\ufffe\x02](\r?\n)?")
_HYPHEN_AT_END = re.compile(r"(\w)[-\u00ad]\n(?=[a-zà-ÿ])")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"[ \t]+")


def load_pdf(path: Path, options: LoadOptions) -> Iterator[Document]:
    """One document: the PDF's text, one section per page."""
    pages = page_texts(path, options.pdf_max_pages)
    text, sections, empty = pdf_text(pages)
    if not text.strip():
        raise LoadError(
            f"no text layer in {len(pages)} page(s) (scanned or image-only PDF; run OCR first)"
        )
    metadata: dict[str, Any] = {"format": "pdf", "pages": len(pages)}
    if empty:
        logger.warning("%s: no text on page(s) %s", path, ", ".join(map(str, empty)))
        metadata["pages_without_text"] = empty
    yield new_document(path, text, metadata, sections)


def page_texts(path: Path, max_pages: int | None = None) -> list[str]:
    """The raw text of each page (lines separated by ``\\n``), hyphens joined.

    Raises:
        LoadError: encrypted, damaged, too many pages, or pypdfium2 not installed.
    """
    try:
        import pypdfium2 as pdfium
    except ImportError as err:
        raise LoadError("PDF support needs pypdfium2: pip install 'kgbuild[formats]'") from err

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as err:
        raise LoadError(_open_error(str(err))) from None
    try:
        count = len(pdf)
        if max_pages is not None and count > max_pages:
            raise LoadError(f"too many pages: {count} > pdf_max_pages {max_pages}")
        texts = []
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    texts.append(_clean(textpage.get_text_range()))
                finally:
                    textpage.close()
            finally:
                page.close()
        return texts
    finally:
        pdf.close()


def _open_error(message: str) -> str:
    low = message.lower()
    if "password" in low or "security" in low:
        return "encrypted (password protected); decrypt it first"
    if "format" in low or "file" in low:
        return f"damaged or not a PDF ({message.rstrip('.')})"
    return f"cannot open PDF ({message.rstrip('.')})"


def _clean(raw: str) -> str:
    """Line ends as ``\\n``, hyphenated line ends joined, trailing spaces off."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _SOFT_HYPHEN.sub(_soft_hyphen, text)
    text = _HYPHEN_AT_END.sub(r"\1", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _soft_hyphen(m: re.Match[str]) -> str:
    """PDFium's line-end hyphen: join before lower case, keep a hyphen otherwise."""
    after = m.string[m.end() : m.end() + 1]
    return "" if after.islower() else "-"


def _key(line: str) -> str:
    return _SPACES.sub(" ", _DIGITS.sub("#", line.strip().lower()))


def _edge_keys(lines: list[str]) -> set[str]:
    body = [line for line in lines if line.strip()]
    return {_key(line) for line in body[:EDGE_LINES] + body[-EDGE_LINES:]}


def pdf_text(pages: list[str]) -> tuple[str, list[Section], list[int]]:
    """Join page texts: running headers/footers dropped, a blank line between pages.

    Returns:
        ``(text, sections, pages without text)``: one section per page with text.
    """
    split = [page.split("\n") for page in pages]
    repeated: set[str] = set()
    if len(pages) >= MIN_PAGES_FOR_REPEATS:
        counts = Counter(k for lines in split for k in _edge_keys(lines))
        need = max(2, math.ceil(REPEAT_SHARE * len(pages)))
        repeated = {k for k, n in counts.items() if n >= need and k}
    parts: list[str] = []
    sections: list[Section] = []
    empty: list[int] = []
    offset = 0
    for number, lines in enumerate(split, start=1):
        kept = _drop_edges(lines, repeated) if repeated else lines
        body = "\n".join(kept).strip()
        if not body:
            empty.append(number)
            continue
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        parts.append(body)
        sections.append(Section(start=offset, end=offset + len(body), page=number))
        offset += len(body)
    return "".join(parts), sections, empty


def _drop_edges(lines: list[str], repeated: set[str]) -> list[str]:
    """Drop repeated lines among the first and last EDGE_LINES non-blank lines."""
    body = [i for i, line in enumerate(lines) if line.strip()]
    edges = set(body[:EDGE_LINES] + body[-EDGE_LINES:])
    return [line for i, line in enumerate(lines) if i not in edges or _key(line) not in repeated]


register_loader([".pdf"], load_pdf, format="pdf")
