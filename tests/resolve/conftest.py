"""Fixtures for the entity-resolution tests: documents of real sentences, as Mentions.

``make_doc(source, text, spans)`` builds the mentions a extractor would return for
``text``: each ``(surface, label)`` of ``spans`` is found in the text after the
previous one, so offsets are real and ``text[m.start:m.end] == m.text`` holds.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kgbuild import ids
from kgbuild.types import Chunk, Document, DocumentGraph, Entity, Mention

Doc = tuple[Document, list[Mention]]


def make_doc(source: str, text: str, spans: list[tuple[str, str]]) -> Doc:
    doc_id = ids.document_id(source)
    chunk = ids.chunk_id(doc_id, 0, len(text))
    mentions, pos = [], 0
    for surface, label in spans:
        start = text.index(surface, pos)
        end = start + len(surface)
        pos = end
        mentions.append(
            Mention(
                id=ids.mention_id(doc_id, start, end, label),
                document_id=doc_id,
                chunk_id=chunk,
                start=start,
                end=end,
                text=surface,
                label=label,
                score=0.9,
            )
        )
    document = Document(id=doc_id, source=source, text=text, content_hash=ids.content_hash(text))
    return document, mentions


def document_graph(document: Document, mentions: list[Mention], entities: list[Entity]):
    """What the pipeline would write for a resolved document (no relations)."""
    chunk = Chunk(
        id=ids.chunk_id(document.id, 0, len(document.text)),
        document_id=document.id,
        index=0,
        start=0,
        end=len(document.text),
        text=document.text,
    )
    return DocumentGraph(document=document, chunks=[chunk], mentions=mentions, entities=entities)


@pytest.fixture
def doc() -> Callable[[str, str, list[tuple[str, str]]], Doc]:
    return make_doc
