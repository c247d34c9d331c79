"""HTML (.html, .htm): the visible text of a page, or only its main content.

Two ways, chosen with :attr:`LoadOptions.html <kgbuild.ingest.LoadOptions.html>`:

* ``"plain"`` (default): every visible text of the file, extracted with BeautifulSoup
  (scripts, styles and the ``<head>`` dropped, block elements on their own lines).
  Right for simple HTML: exported notes, documentation, e-mails.
* ``"main"``: the main content of a web page, with trafilatura: navigation menus,
  cookie banners, footers, related-article lists and ads are dropped. Right for
  saved news and blog pages. Needs ``kgbuild[formats]``. A page where trafilatura
  finds no main content falls back to ``"plain"`` with a warning.

The extracted text becomes ``Document.text``, so every offset refers to it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgbuild.ingest.base import LoadError, LoadOptions, new_document, register_loader
from kgbuild.ingest.decoding import read_text_file
from kgbuild.types import Document

__all__ = ["html_main_text", "html_to_text", "load_html"]

logger = logging.getLogger(__name__)


def load_html(path: Path, options: LoadOptions) -> Iterator[Document]:
    """One document: the page's text (see the module docstring for the two ways)."""
    html, encoding = read_text_file(path, options)
    metadata: dict[str, Any] = {"format": "html", "encoding": encoding}
    extractor = "plain"
    if options.html == "main":
        text, title = html_main_text(html)
        if text.strip():
            extractor = "main"
        else:
            logger.warning("%s: no main content found; using all visible text", path)
    if extractor == "plain":
        text, title = html_to_text(html)
    metadata["html_extractor"] = extractor
    if title:
        metadata["title"] = title
    if not text.strip():
        raise LoadError("empty (no visible text)")
    yield new_document(path, text, metadata)


def html_main_text(html: str) -> tuple[str, str | None]:
    """The main content of a web page (trafilatura), and its title; ``""`` if none is found.

    Paragraphs are separated by a blank line, so sentences never run across them.
    """
    try:
        import trafilatura
    except ImportError as err:
        raise LoadError(
            "main-content extraction needs trafilatura: pip install 'kgbuild[formats]'"
        ) from err

    text = trafilatura.extract(
        html,
        output_format="txt",
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta is not None and meta.title else None
    if not text:
        return "", title
    paragraphs = [p.strip() for p in text.splitlines()]
    return "\n\n".join(p for p in paragraphs if p), title


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


register_loader([".html", ".htm"], load_html, format="html")
