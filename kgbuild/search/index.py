"""The search index of a graph: vectors for exact cosine search and BM25 for keywords.

:class:`SearchIndex` holds, for chunks and for entities, a float32 matrix of their
stored vectors (rows sorted by id) and a BM25 index of their text (`bm25s
<https://github.com/xhluca/bm25s>`_, Lucene's BM25 variant, English stop words; an
entity's text is its name, aliases and type). Search is exact: one matrix-vector
product (``benchmarks/search_quality.py`` measures it; at 100,000 vectors it takes a few
milliseconds, so an approximate index would not pay off at the sizes a NetworkX file
holds).

The index is derived from the store alone, so it can be thrown away at any time. It is
kept in kgbuild's cache folder (``<cache>/search/<store>/<fingerprint>/``, beside the
Cypher mirrors) and in memory, under a fingerprint of the stored documents (id,
content hash, time written, model, overrides) and the graph's counts: any write or
deletion changes it, and the next search rebuilds the index once, then every process
reuses it. A store keeps one index on disk; older ones are deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kgbuild.search.access import GraphReader
from kgbuild.search.encoder import DIMENSIONS, ENCODER_ID

__all__ = ["INDEX_FORMAT", "KindIndex", "SearchIndex", "load_index", "tokenize"]

logger = logging.getLogger(__name__)

#: Bump when what the index holds changes: older cached indexes are rebuilt.
INDEX_FORMAT = 1

Kind = Literal["chunk", "entity"]

_memory: dict[str, SearchIndex] = {}
_memory_lock = threading.Lock()


def _bm25s() -> Any:
    """bm25s, its debug messages silenced (it logs every index build at DEBUG level)."""
    import bm25s

    quiet = logging.getLogger("bm25s")
    if quiet.level < logging.WARNING:
        quiet.setLevel(logging.WARNING)
    return bm25s


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased word tokens without English stop words (as the BM25 index sees text)."""
    return _bm25s().tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


@dataclass
class KindIndex:
    """Vectors and BM25 of one kind of node (chunks or entities)."""

    ids: list[str]
    vectors: np.ndarray  # (n, 384) float32; zero rows for nodes without a vector
    has_vector: np.ndarray  # (n,) bool
    bm25: Any  # bm25s.BM25 or None when there are no nodes

    @classmethod
    def build(cls, rows: list[dict[str, Any]], texts: list[str]) -> KindIndex:
        bm25s = _bm25s()

        ids = [r["id"] for r in rows]
        vectors = np.zeros((len(rows), DIMENSIONS), dtype=np.float32)
        has_vector = np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            if row.get("embedding") is not None:
                vectors[i] = row["embedding"]
                has_vector[i] = True
        bm25 = None
        if rows:
            bm25 = bm25s.BM25()
            corpus = bm25s.tokenize(texts, stopwords="en", show_progress=False)
            bm25.index(corpus, show_progress=False)
        return cls(ids, vectors, has_vector, bm25)

    def vector_ranking(self, query: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` nodes most similar to the unit vector ``query`` (cosine), best first;
        ties by id."""
        if not self.has_vector.any():
            return []
        scores = self.vectors @ query
        candidates = np.flatnonzero(self.has_vector)
        order = candidates[np.lexsort((candidates, -scores[candidates]))][:n]
        return [(self.ids[i], float(scores[i])) for i in order]

    def keyword_ranking(self, tokens: list[str], n: int) -> list[tuple[str, float]]:
        """The ``n`` nodes with the best BM25 score for ``tokens`` (score > 0), best first;
        ties by id."""
        if self.bm25 is None or not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        candidates = np.flatnonzero(scores > 0)
        order = candidates[np.lexsort((candidates, -scores[candidates]))][:n]
        return [(self.ids[i], float(scores[i])) for i in order]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "vectors.npy", self.vectors)
        np.save(folder / "has_vector.npy", self.has_vector)
        (folder / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        if self.bm25 is not None:
            self.bm25.save(str(folder / "bm25"), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KindIndex:
        bm25s = _bm25s()

        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        bm25 = None
        if (folder / "bm25").is_dir():
            bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False, verbosity=0)
        return cls(ids, np.load(folder / "vectors.npy"), np.load(folder / "has_vector.npy"), bm25)

    def nbytes(self) -> int:
        """Memory of the vectors and the BM25 matrix, in bytes."""
        size = self.vectors.nbytes + self.has_vector.nbytes
        if self.bm25 is not None:
            arrays = self.bm25.scores.values()
            size += sum(v.nbytes for v in arrays if hasattr(v, "nbytes"))
        return size


def entity_search_text(row: dict[str, Any]) -> str:
    """What BM25 sees of an entity: its name, aliases and type."""
    return " ".join([row["name"], *row.get("aliases", []), row["type"]])


@dataclass
class SearchIndex:
    """Chunk and entity indexes of one version of a graph (see the module doc)."""

    fingerprint: str
    chunks: KindIndex
    entities: KindIndex

    @classmethod
    def build(cls, reader: GraphReader, fingerprint: str) -> SearchIndex:
        chunks = reader.chunks()
        entities = reader.entities()
        index = cls(
            fingerprint,
            KindIndex.build(chunks, [c["text"] for c in chunks]),
            KindIndex.build(entities, [entity_search_text(e) for e in entities]),
        )
        missing = int((~index.chunks.has_vector).sum() + (~index.entities.has_vector).sum())
        some = bool(index.chunks.has_vector.any() or index.entities.has_vector.any())
        if missing and some:  # none at all: embeddings were off (the search says so)
            logger.warning(
                "%d chunk(s) or entities have no vector (ingested without --embeddings, or "
                "a run was interrupted): they are found by keywords only; ingest again "
                "with --embeddings to add them",
                missing,
            )
        return index

    def kind(self, kind: Kind) -> KindIndex:
        return self.chunks if kind == "chunk" else self.entities

    def save(self, folder: Path) -> None:
        self.chunks.save(folder / "chunk")
        self.entities.save(folder / "entity")

    @classmethod
    def load(cls, folder: Path, fingerprint: str) -> SearchIndex:
        return cls(fingerprint, KindIndex.load(folder / "chunk"), KindIndex.load(folder / "entity"))

    def nbytes(self) -> int:
        return self.chunks.nbytes() + self.entities.nbytes()


def _cache_folder(identity: str) -> Path:
    from kgbuild.store.cypher_embedded import cache_root

    return cache_root() / "search" / hashlib.sha256(identity.encode()).hexdigest()[:16]


def load_index(reader: GraphReader, identity: str, *, cache: bool = True) -> SearchIndex:
    """The index of the graph ``reader`` reads: from memory, else kgbuild's cache, else
    built (and cached). ``identity`` names the store (its resolved path or its URI and
    database)."""
    fingerprint = hashlib.sha256(
        f"{reader.fingerprint()}|{ENCODER_ID}|{INDEX_FORMAT}".encode()
    ).hexdigest()[:24]
    with _memory_lock:
        held = _memory.get(identity)
        if held is not None and held.fingerprint == fingerprint:
            return held
    folder = _cache_folder(identity)
    target = folder / fingerprint
    index = None
    if cache and (target / "done").is_file():
        try:
            index = SearchIndex.load(target, fingerprint)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("cached search index %s unreadable (%s); rebuilding", target, exc)
    if index is None:
        logger.info("building the search index of %s", identity)
        index = SearchIndex.build(reader, fingerprint)
        if cache:
            _save(index, folder, target)
    with _memory_lock:
        _memory[identity] = index
    return index


def _save(index: SearchIndex, folder: Path, target: Path) -> None:
    """Write the index to ``target`` through a temporary folder; drop older versions."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
        index.save(tmp)
        (tmp / "done").write_text("", encoding="utf-8")
        try:
            os.replace(tmp, target)
        except OSError:  # another process saved it first
            shutil.rmtree(tmp, ignore_errors=True)
        for old in folder.iterdir():
            if old.name != target.name and not old.name.startswith(".build-"):
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        logger.warning("cannot keep the search index in %s: %s", folder, exc)
