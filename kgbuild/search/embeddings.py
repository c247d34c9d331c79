"""Embeddings at ingest: a vector on every chunk and every entity, kept in step with the text.

Off by default (``BuildConfig.embeddings``, ``kgbuild ingest --embeddings``): measured,
they made ingest 3.8x slower. When on, the pipeline calls :class:`IngestEmbedder` at two
points (the hooks of :class:`kgbuild.pipeline.stages.PipelineStages`, so both engines):

* :meth:`IngestEmbedder.embed_chunks`, just before a batch of document graphs is
  written: every chunk gets ``Chunk.embedding``, so the vector is written with the
  chunk, in the same write (a document is never stored without its vectors). A chunk
  of a changed document whose id (document + offsets) and text are stored already keeps
  its stored vector: only new and changed text is encoded.
* :meth:`IngestEmbedder.backfill_chunks`, when the run ends: chunks written while
  embeddings were off (a graph ingested first without them) get their vectors through
  :meth:`~kgbuild.store.base.GraphStore.set_node_properties`.
* :meth:`IngestEmbedder.refresh_entities`, then: every entity whose vector
  is missing or was made from another set of mentions (``embedding_mentions`` differs
  from ``mention_count``), and every entity the run wrote, gets its vector anew through
  :meth:`~kgbuild.store.base.GraphStore.set_node_properties`. An entity's vector is a
  function of the mentions the store holds (:func:`entity_text`), so any order of
  writes and deletions ends with what one clean ingest gives.

Deleting a document deletes its chunk nodes and so their vectors; an entity left without
mentions is deleted with its vector. Vectors are lists of 384 floats rounded to
:data:`DECIMALS` decimals, identical on both stores.

The encoder (:mod:`kgbuild.search.encoder`) loads only when there is text to encode: a
run where nothing changed never loads it.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from kgbuild.search.access import reader_for
from kgbuild.search.encoder import TextEncoder, get_encoder
from kgbuild.store.base import GraphStore
from kgbuild.types import DocumentGraph

__all__ = ["DECIMALS", "EMBEDDINGS_ENV", "IngestEmbedder", "entity_text", "to_property"]

logger = logging.getLogger(__name__)

#: Decimals kept of each vector component (the error on a cosine is below 1e-5).
DECIMALS = 6
#: Environment variable: "0" / "off" turns embeddings at ingest off.
EMBEDDINGS_ENV = "KGBUILD_EMBEDDINGS"
#: Characters of context either side of a mention, at most (cut at sentence ends).
CONTEXT_CHARS = 150

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def embeddings_enabled(configured: bool = True) -> bool:
    """Whether ingest embeds: the config's choice, unless ``$KGBUILD_EMBEDDINGS`` says off."""
    value = os.environ.get(EMBEDDINGS_ENV, "").strip().lower()
    return configured and value not in ("0", "off", "false", "no")


def to_property(vectors: np.ndarray) -> list[list[float]]:
    """Rows of a vector array as stored: lists of floats rounded to :data:`DECIMALS`."""
    return np.round(vectors.astype(np.float64), DECIMALS).tolist()


def mention_context(chunk_text: str, start: int, end: int) -> str:
    """The sentence around ``chunk_text[start:end]``, at most :data:`CONTEXT_CHARS` either
    side, whitespace collapsed."""
    lo = max(0, start - CONTEXT_CHARS)
    hi = min(len(chunk_text), end + CONTEXT_CHARS)
    before = chunk_text[lo:start]
    ends = list(_SENTENCE_END.finditer(before))
    if ends:
        lo += ends[-1].end()
    after = _SENTENCE_END.search(chunk_text, end, hi)
    if after:
        hi = after.start()
    return " ".join(chunk_text[lo:hi].split())


def entity_text(row: dict[str, Any], mentions: int | None = None) -> str:
    """What an entity's vector encodes: ``"name (type): context | context"``, the contexts
    (:func:`mention_context`) of its strongest mentions (score, then id), the best first;
    ``mentions`` limits how many (default: all the reader gave)."""
    text = f"{row['name']} ({row['type']})"
    contexts = []
    for m in row["mentions"][:mentions]:
        offset = m["chunk_start"]
        context = mention_context(m["chunk_text"], m["start"] - offset, m["end"] - offset)
        if context and context not in contexts:
            contexts.append(context)
    return f"{text}: {' | '.join(contexts)}" if contexts else text


class IngestEmbedder:
    """Computes and stores the vectors of one ingest run (see the module doc).

    Args:
        encoder: The sentence encoder (default: the process's shared one, loaded on
            first use).
    """

    def __init__(self, encoder: TextEncoder | None = None) -> None:
        self._encoder = encoder
        self.entity_ids: set[str] = set()
        self.changed = False
        self.seconds = 0.0
        self.chunks_encoded = 0
        self.chunks_reused = 0
        self.entities_encoded = 0

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = get_encoder()
        return self._encoder

    def embed_chunks(
        self, store: GraphStore, graphs: Sequence[DocumentGraph], stored: Iterable[str] = ()
    ) -> None:
        """Set ``embedding`` on every chunk of ``graphs`` (in place).

        ``stored``: ids of the documents the store holds a version of (changed or
        re-extracted ones); their chunks' stored vectors are reused where id and text
        are unchanged.
        """
        t0 = time.perf_counter()
        stored = set(stored)
        known: dict[str, tuple[str, list[float]]] = {}
        if stored:
            ids = [c.id for g in graphs if g.document.id in stored for c in g.chunks]
            known = reader_for(store).chunk_embeddings(ids)
        todo = []
        for graph in graphs:
            self.entity_ids.update(e.id for e in graph.entities)
            for chunk in graph.chunks:
                old = known.get(chunk.id)
                if old is not None and old[0] == chunk.text:
                    chunk.embedding = list(old[1])
                    self.chunks_reused += 1
                else:
                    todo.append(chunk)
        if todo:
            vectors = to_property(self.encoder.encode([c.text for c in todo]))
            for chunk, vector in zip(todo, vectors, strict=True):
                chunk.embedding = vector
            self.chunks_encoded += len(todo)
        self.changed = self.changed or bool(graphs)
        self.seconds += time.perf_counter() - t0

    def backfill_chunks(self, store: GraphStore) -> int:
        """Give a vector to every stored chunk without one (written while embeddings
        were off); returns how many were encoded."""
        t0 = time.perf_counter()
        rows = reader_for(store).chunks_without_vectors()
        if rows:
            vectors = to_property(self.encoder.encode([r["text"] for r in rows]))
            store.set_node_properties(
                "Chunk", {r["id"]: {"embedding": v} for r, v in zip(rows, vectors, strict=True)}
            )
            self.chunks_encoded += len(rows)
            logger.info("embedded %d stored chunk(s) that had no vector", len(rows))
        self.seconds += time.perf_counter() - t0
        return len(rows)

    def refresh_entities(self, store: GraphStore, *, sweep: bool = True) -> int:
        """Give new vectors to the entities this run wrote and, with ``sweep``, to every
        stale one (:meth:`~kgbuild.search.access.GraphReader.stale_entities`); returns
        how many were encoded."""
        t0 = time.perf_counter()
        reader = reader_for(store)
        ids = set(self.entity_ids)
        if sweep:
            ids.update(reader.stale_entities())
        rows = reader.entity_inputs(sorted(ids)) if ids else []
        if rows:
            vectors = to_property(self.encoder.encode([entity_text(r) for r in rows]))
            store.set_node_properties(
                "Entity",
                {
                    r["id"]: {"embedding": v, "embedding_mentions": r["mention_count"]}
                    for r, v in zip(rows, vectors, strict=True)
                },
            )
        self.entities_encoded += len(rows)
        self.entity_ids.clear()
        self.seconds += time.perf_counter() - t0
        if rows:
            logger.info(
                "embedded %d chunk(s) (%d kept), %d entities in %.2f s",
                self.chunks_encoded,
                self.chunks_reused,
                len(rows),
                self.seconds,
            )
        return len(rows)
