"""Embeddings at ingest: a vector on every chunk and every entity, kept in step with the text.

Off by default (``BuildConfig.embeddings``, ``kgbuild ingest --embeddings``): measured,
they make ingest about 1.4x as long (``docs/search.md``). When on, the pipeline calls
:class:`IngestEmbedder` at three points (the hooks of
:class:`kgbuild.pipeline.stages.PipelineStages`, so both engines):

* :meth:`IngestEmbedder.embed_chunks`, just before a batch of document graphs is
  written: every chunk gets ``Chunk.embedding``, so the vector is written with the
  chunk, in the same write (a document is never stored without its vectors). A chunk
  of a changed document whose id (document + offsets) and text are stored already keeps
  its stored vector: only new and changed text is encoded. The same forward pass gives
  the vectors of the entities' strongest mentions read in their chunk
  (:meth:`~kgbuild.search.encoder.TextEncoder.encode_spans`), kept for the next hook.
* :meth:`IngestEmbedder.backfill_chunks`, when the run ends: chunks written while
  embeddings were off (a graph ingested first without them) get their vectors through
  :meth:`~kgbuild.store.base.GraphStore.set_node_properties`.
* :meth:`IngestEmbedder.refresh_entities`, then: every entity whose vector
  is missing or was made from another set of mentions (``embedding_mentions`` differs
  from ``mention_count``), and every entity the run wrote, gets its vector anew through
  :meth:`~kgbuild.store.base.GraphStore.set_node_properties`. An entity's vector is a
  function of the mentions the store holds (:func:`entity_vectors`), so any order of
  writes and deletions ends with what one clean ingest gives; it is computed from the
  chunk pass of the first hook where that pass read its strongest mention, else by
  encoding that mention's chunk.

What an entity's vector encodes (measured in ``benchmarks/search_quality.py``, the tail
entity of Re-DocRED facts found by cosine): its strongest mention read in its chunk, the
mean of the token vectors of the mention plus that of its sentence
(:func:`context_bounds`), plus half the vector of its type's name. It finds entities a
little better than encoding ``"name (type): sentence"`` as a text of its own (recall@5
0.347 against 0.326) and costs no encoder pass of its own: that one made ingest with
embeddings 3.8x as long as without; now it is about 1.4x.

Deleting a document deletes its chunk nodes and so their vectors; an entity left without
mentions is deleted with its vector. Vectors are lists of 384 floats rounded to
:data:`DECIMALS` decimals, identical on both stores.

The encoder (:mod:`kgbuild.search.encoder`) loads only when there is text to encode: a
run where nothing changed never loads it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from kgbuild.search.access import reader_for
from kgbuild.search.encoder import DIMENSIONS, TextEncoder, get_encoder
from kgbuild.store.base import GraphStore
from kgbuild.types import Chunk, DocumentGraph

__all__ = [
    "DECIMALS",
    "EMBEDDINGS_ENV",
    "IngestEmbedder",
    "context_bounds",
    "entity_text",
    "entity_vectors",
    "to_property",
]

logger = logging.getLogger(__name__)

#: Decimals kept of each vector component (the error on a cosine is below 1e-5).
DECIMALS = 6
#: Environment variable: "0" / "off" turns embeddings at ingest off.
EMBEDDINGS_ENV = "KGBUILD_EMBEDDINGS"
#: Characters of context either side of a mention, at most (cut at sentence ends).
CONTEXT_CHARS = 150
#: Weight of the type name's vector in an entity's vector.
TYPE_WEIGHT = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def embeddings_enabled(configured: bool = True) -> bool:
    """Whether ingest embeds: the config's choice, unless ``$KGBUILD_EMBEDDINGS`` says off."""
    value = os.environ.get(EMBEDDINGS_ENV, "").strip().lower()
    return configured and value not in ("0", "off", "false", "no")


def to_property(vectors: np.ndarray) -> list[list[float]]:
    """Rows of a vector array as stored: lists of floats rounded to :data:`DECIMALS`."""
    return np.round(vectors.astype(np.float64), DECIMALS).tolist()


def context_bounds(chunk_text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the sentence around ``chunk_text[start:end]``, at most
    :data:`CONTEXT_CHARS` either side (it always holds the mention)."""
    lo = max(0, start - CONTEXT_CHARS)
    hi = min(len(chunk_text), end + CONTEXT_CHARS)
    ends = list(_SENTENCE_END.finditer(chunk_text, lo, start))
    if ends:
        lo = min(ends[-1].end(), start)
    after = _SENTENCE_END.search(chunk_text, end, hi)
    if after:
        hi = max(after.start(), end)
    return lo, hi


def mention_context(chunk_text: str, start: int, end: int) -> str:
    """The sentence around ``chunk_text[start:end]`` (:func:`context_bounds`), whitespace
    collapsed."""
    lo, hi = context_bounds(chunk_text, start, end)
    return " ".join(chunk_text[lo:hi].split())


def entity_text(row: dict[str, Any], mentions: int | None = None) -> str:
    """``"name (type): context | context"``, the contexts (:func:`mention_context`) of the
    entity's strongest mentions (score, then id), the best first; ``mentions`` limits how
    many (default: all the reader gave). What an entity without mentions is encoded from
    (its name and type); the benchmark compares the other variants with
    :func:`entity_vectors`."""
    text = f"{row['name']} ({row['type']})"
    contexts = []
    for m in row["mentions"][:mentions]:
        offset = m["chunk_start"]
        context = mention_context(m["chunk_text"], m["start"] - offset, m["end"] - offset)
        if context and context not in contexts:
            contexts.append(context)
    return f"{text}: {' | '.join(contexts)}" if contexts else text


#: A mention as read: (chunk id, sha1 of the chunk's text, start, end in the chunk).
MentionKey = tuple[str, str, int, int]


def mention_key(chunk_id: str, chunk_text: str, start: int, end: int) -> MentionKey:
    """Identifies a mention's reading: its place in a chunk and that chunk's text."""
    digest = hashlib.sha1(chunk_text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return (chunk_id, digest, start, end)


def read_chunks(
    encoder: TextEncoder, texts: list[str], spans: list[list[tuple[int, int]]]
) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """One forward pass per chunk: the chunks' vectors and, per span (a mention, offsets
    into its chunk), its reading: the unit vector of the mention's tokens plus that of its
    sentence's (:func:`context_bounds`). A mention past the encoder's 256 tokens is read
    in its sentence alone (one short pass more)."""
    asked = []
    for text, mine in zip(texts, spans, strict=True):
        asked.append([*mine, *(context_bounds(text, s, e) for s, e in mine)])
    vectors, pooled = encoder.encode_spans(texts, asked)
    readings: list[list[np.ndarray]] = []
    for text, mine, rows in zip(texts, spans, pooled, strict=True):
        out = []
        for k, (s, e) in enumerate(mine):
            span, sentence = rows[k], rows[len(mine) + k]
            if not span.any() or not sentence.any():  # past the 256 tokens
                lo, hi = context_bounds(text, s, e)
                _, alone = encoder.encode_spans([text[lo:hi]], [[(s - lo, e - lo), (0, hi - lo)]])
                span, sentence = alone[0][0], alone[0][1]
            out.append(span + sentence)
        readings.append(out)
    return vectors, readings


def entity_vectors(
    encoder: TextEncoder,
    rows: list[dict[str, Any]],
    readings: dict[MentionKey, np.ndarray] | None = None,
    types: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Unit vectors of entities (rows of :meth:`~kgbuild.search.access.GraphReader.
    entity_inputs`): the reading of the strongest mention (:func:`read_chunks`) plus
    :data:`TYPE_WEIGHT` times the vector of the type's name, normalised; an entity
    without mentions gets the vector of :func:`entity_text`.

    ``readings``: mention readings already computed (the chunk pass of
    :meth:`IngestEmbedder.embed_chunks`), by :func:`mention_key`; the others are computed,
    one pass per chunk. ``types``: type vectors already computed (filled in).
    """
    readings = dict(readings or {})
    types = {} if types is None else types
    keys: list[MentionKey | None] = []
    todo: dict[str, tuple[str, list[tuple[int, int]]]] = {}
    for row in rows:
        if not row["mentions"]:
            keys.append(None)
            continue
        m = row["mentions"][0]
        start, end = m["start"] - m["chunk_start"], m["end"] - m["chunk_start"]
        key = mention_key(m["chunk_id"], m["chunk_text"], start, end)
        keys.append(key)
        if key not in readings:
            spans = todo.setdefault(m["chunk_id"], (m["chunk_text"], []))[1]
            if (start, end) not in spans:
                spans.append((start, end))
    if todo:
        ids = sorted(todo)
        _, found = read_chunks(encoder, [todo[i][0] for i in ids], [todo[i][1] for i in ids])
        for chunk_id, mine in zip(ids, found, strict=True):
            text, spans = todo[chunk_id]
            for (start, end), reading in zip(spans, mine, strict=True):
                readings[mention_key(chunk_id, text, start, end)] = reading
    new_types = sorted({r["type"] for r in rows} - set(types))
    if new_types:
        types.update(zip(new_types, encoder.encode(new_types), strict=True))
    out = np.zeros((len(rows), DIMENSIONS), dtype=np.float32)
    bare = [i for i, key in enumerate(keys) if key is None]
    if bare:
        out[bare] = encoder.encode([entity_text(rows[i], 0) for i in bare])
    for i, key in enumerate(keys):
        if key is not None:
            vector = readings[key] + TYPE_WEIGHT * types[rows[i]["type"]]
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return out


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
        # Per entity of this run: its strongest mention seen in an encoded chunk, as
        # ((-score, mention id), key, reading); the reading is None until encoded.
        self._best: dict[str, tuple[tuple[float, str], MentionKey, np.ndarray | None]] = {}
        self._types: dict[str, np.ndarray] = {}

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = get_encoder()
        return self._encoder

    def embed_chunks(
        self, store: GraphStore, graphs: Sequence[DocumentGraph], stored: Iterable[str] = ()
    ) -> None:
        """Set ``embedding`` on every chunk of ``graphs`` (in place), and read the
        entities' strongest mentions in the same pass.

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
        todo: list[Chunk] = []
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
            spans = self._strongest_mentions(graphs, {c.id: c for c in todo})
            mine = [spans.get(c.id, []) for c in todo]
            vectors, readings = read_chunks(
                self.encoder, [c.text for c in todo], [[(s, e) for _, s, e in m] for m in mine]
            )
            for chunk, vector, wanted, found in zip(
                todo, to_property(vectors), mine, readings, strict=True
            ):
                chunk.embedding = vector
                for (entity_id, start, end), reading in zip(wanted, found, strict=True):
                    rank, key, _ = self._best[entity_id]
                    if key == mention_key(chunk.id, chunk.text, start, end):
                        self._best[entity_id] = (rank, key, reading)
            self.chunks_encoded += len(todo)
        self.changed = self.changed or bool(graphs)
        self.seconds += time.perf_counter() - t0

    def _strongest_mentions(
        self, graphs: Sequence[DocumentGraph], chunks: dict[str, Chunk]
    ) -> dict[str, list[tuple[str, int, int]]]:
        """Update the run's strongest mention per entity from the mentions in ``chunks``;
        return, per chunk, the (entity id, start, end) to read in it."""
        changed: set[str] = set()
        for graph in graphs:
            for m in graph.mentions:
                chunk = chunks.get(m.chunk_id)
                if m.entity_id is None or chunk is None:
                    continue
                rank = (-m.score, m.id)
                best = self._best.get(m.entity_id)
                if best is None or rank < best[0]:
                    start, end = m.start - chunk.start, m.end - chunk.start
                    key = mention_key(chunk.id, chunk.text, start, end)
                    self._best[m.entity_id] = (rank, key, None)
                    changed.add(m.entity_id)
        out: dict[str, list[tuple[str, int, int]]] = {}
        for entity_id in sorted(changed):
            chunk_id, _, start, end = self._best[entity_id][1]
            out.setdefault(chunk_id, []).append((entity_id, start, end))
        return out

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
            readings = {key: r for _, key, r in self._best.values() if r is not None}
            vectors = to_property(entity_vectors(self.encoder, rows, readings, self._types))
            store.set_node_properties(
                "Entity",
                {
                    r["id"]: {"embedding": v, "embedding_mentions": r["mention_count"]}
                    for r, v in zip(rows, vectors, strict=True)
                },
            )
        self.entities_encoded += len(rows)
        self.entity_ids.clear()
        self._best.clear()
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
