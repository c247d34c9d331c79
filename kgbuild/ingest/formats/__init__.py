"""The built-in loaders, one module per format; importing this package registers them.

=====================  ==========  =================================================
Extensions             Format      Module
=====================  ==========  =================================================
.txt, .text            text        :mod:`kgbuild.ingest.formats.text`
.md, .markdown         markdown    :mod:`kgbuild.ingest.formats.markdown`
.html, .htm            html        :mod:`kgbuild.ingest.formats.html`
.jsonl                 jsonl       :mod:`kgbuild.ingest.formats.jsonl`
.pdf                   pdf         :mod:`kgbuild.ingest.formats.pdf` (``kgbuild[formats]``)
.docx                  docx        :mod:`kgbuild.ingest.formats.docx` (``kgbuild[formats]``)
=====================  ==========  =================================================

The PDF and Word loaders import their libraries only when a file of theirs is
loaded; without ``kgbuild[formats]`` such a file fails alone, naming the extra.
"""

from kgbuild.ingest.formats import docx, html, jsonl, markdown, pdf, text

__all__ = ["docx", "html", "jsonl", "markdown", "pdf", "text"]
