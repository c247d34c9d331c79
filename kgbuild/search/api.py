"""``kgbuild.search(store, "text", k=10)``: the chunks and entities that answer a query.

How a query is answered:

1. **Two rankings per kind** (chunks and entities): cosine similarity between the
   query's vector and the stored ones (:mod:`kgbuild.search.encoder`), and BM25 over
   the text (chunk text; an entity's name, aliases and type), each the best
   ``max(50, 5k)`` of its kind (:mod:`kgbuild.search.index`, or Neo4j's own indexes
   where the server has them, :mod:`kgbuild.search.native`).
2. **Graph expansion** (``expand=1``): the relations of the best entities (the five
   best of the fused entity ranking) give a third chunk ranking, the chunks that hold
   their evidence (by entity rank, then relation score); each hit also gets the
   one-hop subgraph around its entities.
3. **Reciprocal-rank fusion** (Cormack et al., 2009): a node's score is the sum of
   ``1 / (60 + rank)`` over the rankings it is in; chunks and entities are then ranked
   together, ties by kind and id, so the same graph gives the same hits on both stores.
4. **Evidence** for each hit: its document (source as stored), page or section, the
   chunk text with its character offsets, the mentions and entities in it and the
   relations with evidence in it. An entity hit shows the chunk of its strongest
   mention.

``mode="vector"`` or ``"keyword"`` uses one ranking only (what
``benchmarks/search_quality.py`` compares).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from kgbuild.search.access import GraphReader, reader_for
from kgbuild.search.encoder import TextEncoder, get_encoder
from kgbuild.search.index import SearchIndex, load_index, tokenize
from kgbuild.search.models import (
    EntityRef,
    Evidence,
    MentionRef,
    RelationRef,
    SearchResult,
    SearchResults,
    Subgraph,
)
from kgbuild.search.native import NativeIndexes, native_indexes
from kgbuild.store.base import GraphStore

__all__ = ["MAX_K", "MAX_QUERY_CHARS", "InvalidQuery", "NoEmbeddings", "Searcher", "search"]

logger = logging.getLogger(__name__)

#: Longest query, in characters (the encoder reads 256 tokens, about 1,000 characters).
MAX_QUERY_CHARS = 1000
#: Most hits one query returns.
MAX_K = 1000
#: Reciprocal-rank fusion's constant.
RRF_K = 60
#: Entities whose relations expand a query (expand=1).
SEED_ENTITIES = 5

Mode = Literal["hybrid", "vector", "keyword"]
Kind = Literal["chunk", "entity"]


class InvalidQuery(ValueError):
    """A query search cannot answer (empty, too long, not text); the message says why."""


class NoEmbeddings(ValueError):
    """Vector search on a graph ingested without embeddings (they are opt-in)."""


#: What a graph without vectors needs (the message of :class:`NoEmbeddings` and the
#: warning of a hybrid search that falls back to keywords).
EMBEDDINGS_HINT = (
    "ingest with --embeddings (BuildConfig(embeddings=True)) to add them; they are off by default"
)


def check_query(query: Any, k: Any = 10, expand: Any = 0) -> str:
    """The query, stripped, if ``query``, ``k`` and ``expand`` are usable, else
    :class:`InvalidQuery` naming the input."""
    if not isinstance(query, str):
        raise InvalidQuery(f"query must be text (str), got {type(query).__name__}: {query!r:.60}")
    text = query.strip()
    if not text:
        raise InvalidQuery("query is empty: give some words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQuery(
            f"query is {len(text)} characters long; at most {MAX_QUERY_CHARS} are searched "
            "(the encoder reads about that much): shorten it"
        )
    if "\x00" in text:
        raise InvalidQuery("query contains a NUL character")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidQuery(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    if isinstance(expand, bool) or expand not in (0, 1):
        raise InvalidQuery(f"expand must be 0 or 1 (hops), got {expand!r}")
    return text


def store_identity(store: GraphStore) -> str | None:
    """What names a store's cached index: a file's resolved path, a server's URI and
    database; None for a graph in memory only (its index is not kept on disk)."""
    path = getattr(store, "path", None)
    if path is not None:
        return str(path.resolve())
    uri = getattr(store, "uri", None)
    if uri is not None:
        return f"{uri}|{getattr(store, 'database', None) or ''}"
    return None


def fuse(rankings: Sequence[Sequence[str]]) -> dict[str, float]:
    """Reciprocal-rank fusion of ranked id lists: id -> sum of 1 / (RRF_K + rank)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, node_id in enumerate(ranking, start=1):
            scores[node_id] = scores.get(node_id, 0.0) + 1.0 / (RRF_K + rank)
    return scores


class Searcher:
    """Search over one open store (keeps its reader, index and encoder between queries).

    Args:
        store: An open :class:`~kgbuild.store.base.GraphStore`.
        encoder: The sentence encoder (default: the process's shared one).
        native: Use Neo4j's vector and full-text indexes where the server has them
            (default: yes; see :mod:`kgbuild.search.native`).
    """

    def __init__(
        self, store: GraphStore, encoder: TextEncoder | None = None, *, native: bool = True
    ) -> None:
        self.store = store
        self.reader: GraphReader = reader_for(store)
        self.encoder = encoder or get_encoder()
        self.native: NativeIndexes | None = native_indexes(store) if native else None

    def index(self) -> SearchIndex:
        identity = store_identity(self.store)
        return load_index(
            self.reader, identity or f"memory:{id(self.store)}", cache=identity is not None
        )

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        expand: int = 0,
        kinds: Sequence[Kind] = ("chunk", "entity"),
        mode: Mode = "hybrid",
    ) -> SearchResults:
        """The ``k`` best hits for ``query`` (see the module doc)."""
        text = check_query(query, k, expand)
        if mode not in ("hybrid", "vector", "keyword"):
            raise InvalidQuery(f"mode must be hybrid, vector or keyword, got {mode!r}")
        bad = [kind for kind in kinds if kind not in ("chunk", "entity")]
        if bad or not kinds:
            raise InvalidQuery(f"kinds must be chunk and/or entity, got {list(kinds)!r}")
        if mode != "keyword" and self.reader.vectors_missing():
            if mode == "vector":
                raise NoEmbeddings(f"the graph has no vectors for vector search: {EMBEDDINGS_HINT}")
            logger.warning("the graph has no vectors: keyword search only; %s", EMBEDDINGS_HINT)
            mode = "keyword"
        depth = max(50, 5 * k)
        ranked = self._rankings(text, depth, mode)
        ranks: dict[Kind, dict[str, list[str]]] = {
            kind: {name: [i for i, _ in r] for name, r in lists.items()}
            for kind, lists in ranked.items()
        }
        fused = {kind: fuse(list(lists.values())) for kind, lists in ranks.items()}
        if expand and "chunk" in kinds:
            seeds = _top(fused["entity"], SEED_ENTITIES)
            ranks["chunk"]["graph"] = self._evidence_ranking(seeds)
            fused["chunk"] = fuse(list(ranks["chunk"].values()))
        hits = sorted(
            ((score, kind, node_id) for kind in kinds for node_id, score in fused[kind].items()),
            key=lambda h: (-h[0], h[1], h[2]),
        )[:k]
        results = self._results(hits, ranks)
        if expand:
            self._expand(results)
        return SearchResults(query=text, results=results)

    # -- rankings ----------------------------------------------------------------------------

    def _rankings(
        self, text: str, depth: int, mode: Mode
    ) -> dict[Kind, dict[str, list[tuple[str, float]]]]:
        out: dict[Kind, dict[str, list[tuple[str, float]]]] = {"chunk": {}, "entity": {}}
        vector = self.encoder.encode([text])[0] if mode != "keyword" else None
        if self.native is not None:
            for kind in ("chunk", "entity"):
                if vector is not None:
                    out[kind]["vector"] = self.native.vector_ranking(kind, vector, depth)
                if mode != "vector":
                    out[kind]["keyword"] = self.native.keyword_ranking(kind, text, depth)
            return out
        index = self.index()
        tokens = tokenize([text])[0] if mode != "vector" else []
        for kind in ("chunk", "entity"):
            part = index.kind(kind)
            if vector is not None:
                out[kind]["vector"] = part.vector_ranking(np.asarray(vector), depth)
            if mode != "vector":
                out[kind]["keyword"] = part.keyword_ranking(tokens, depth)
        return out

    def _evidence_ranking(self, seeds: list[str]) -> list[str]:
        """Chunks holding evidence of the seeds' relations: by seed rank, then relation
        score (best first), then relation id."""
        relations = self.reader.neighbourhood(seeds)
        rank = {e: i for i, e in enumerate(seeds)}
        order = sorted(
            relations,
            key=lambda r: (
                min(rank.get(r["head_id"], len(seeds)), rank.get(r["tail_id"], len(seeds))),
                -(r["score"] or 0.0),
                r["id"],
            ),
        )
        chunks: list[str] = []
        for relation in order:
            for chunk_id in relation["chunk_ids"]:
                if chunk_id not in chunks:
                    chunks.append(chunk_id)
        return chunks

    # -- results -----------------------------------------------------------------------------

    def _results(
        self, hits: list[tuple[float, Kind, str]], ranks: dict[Kind, dict[str, list[str]]]
    ) -> list[SearchResult]:
        entity_rows = self.reader.entity_details([i for _, kind, i in hits if kind == "entity"])
        chunk_ids = [i for _, kind, i in hits if kind == "chunk"]
        chunk_ids += [r["best_chunk"] for r in entity_rows.values() if r["best_chunk"]]
        chunk_rows = self.reader.chunk_details(list(dict.fromkeys(chunk_ids)))
        results = []
        for score, kind, node_id in hits:
            positions = {
                name: ranking.index(node_id) + 1
                for name, ranking in ranks[kind].items()
                if node_id in ranking
            }
            if kind == "chunk":
                chunk = chunk_rows.get(node_id)
                if chunk is None:  # removed since the index was built
                    continue
                entities = chunk["entities"]
                relations = chunk["relations"]
                mentions = chunk["mentions"]
            else:
                entity = entity_rows.get(node_id)
                chunk = chunk_rows.get(entity["best_chunk"]) if entity else None
                if entity is None or chunk is None:
                    continue
                entities = [entity]
                relations = [
                    r for r in chunk["relations"] if node_id in (r["head_id"], r["tail_id"])
                ]
                mentions = [m for m in chunk["mentions"] if m["entity_id"] == node_id]
            results.append(
                SearchResult(
                    kind=kind,
                    id=node_id,
                    score=round(score, 6),
                    document=chunk["source"],
                    document_id=chunk["document_id"],
                    chunk_id=chunk["id"],
                    page=chunk.get("page"),
                    section=chunk.get("section"),
                    text=chunk["text"],
                    start=chunk["start"],
                    end=chunk["end"],
                    entities=[_entity(e) for e in entities],
                    mentions=[MentionRef(**m) for m in mentions],
                    relations=[_relation(r) for r in relations],
                    ranks=positions,
                )
            )
        return results

    def _expand(self, results: list[SearchResult]) -> None:
        """Give each hit the one-hop subgraph around its entities (two reads for all hits:
        their relations, then the entities at their ends)."""
        seeds = [{e.id for e in result.entities} for result in results]
        everyone = sorted(set().union(*seeds)) if seeds else []
        relations = self.reader.neighbourhood(everyone)  # sorted by id
        ends = {r[end] for r in relations for end in ("head_id", "tail_id")}
        rows = self.reader.entity_rows(sorted(ends | set(everyone)))
        for result, mine in zip(results, seeds, strict=True):
            around = [r for r in relations if r["head_id"] in mine or r["tail_id"] in mine]
            ids = {r[end] for r in around for end in ("head_id", "tail_id")} | mine
            result.subgraph = Subgraph(
                entities=[_entity(rows[e]) for e in sorted(ids) if e in rows],
                relations=[_relation(r) for r in around],
            )


def _top(scores: dict[str, float], n: int) -> list[str]:
    return [i for i, _ in sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:n]]


def _entity(row: dict[str, Any]) -> EntityRef:
    return EntityRef(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        aliases=list(row.get("aliases") or []),
        mention_count=row.get("mention_count") or 0,
    )


def _relation(row: dict[str, Any]) -> RelationRef:
    evidence = [
        Evidence(document_id=d, chunk_id=c, head_mention_id=h, tail_mention_id=t, score=s)
        for d, c, h, t, s in zip(
            row["document_ids"],
            row["chunk_ids"],
            row["head_mention_ids"],
            row["tail_mention_ids"],
            row["evidence_scores"],
            strict=True,
        )
    ]
    return RelationRef(
        id=row["id"],
        type=row["type"],
        score=row["score"],
        head_id=row["head_id"],
        head=row["head"],
        tail_id=row["tail_id"],
        tail=row["tail"],
        evidence=evidence,
    )


@contextmanager
def _opened(
    store: GraphStore | str | os.PathLike[str], **credentials: str | None
) -> Iterator[GraphStore]:
    if isinstance(store, GraphStore):
        yield store
        return
    from kgbuild.store import open_store

    path = os.fspath(store)
    if "://" not in path and not os.path.exists(path):
        raise FileNotFoundError(f"no graph at {path}: ingest documents into it first")
    with open_store(path, **credentials) as opened:
        yield opened


def search(
    store: GraphStore | str | os.PathLike[str],
    query: str,
    k: int = 10,
    *,
    expand: int = 0,
    kinds: Sequence[Kind] = ("chunk", "entity"),
    mode: Mode = "hybrid",
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> SearchResults:
    """The ``k`` chunks and entities of the graph that best answer ``query``.

    Args:
        store: A graph: a ``.json`` path, a Neo4j URI or an open
            :class:`~kgbuild.store.base.GraphStore`.
        query: Text, up to :data:`MAX_QUERY_CHARS` characters.
        k: How many hits (1 to :data:`MAX_K`).
        expand: 1 adds the one-hop subgraph around each hit's entities and ranks the
            chunks holding their relations' evidence too.
        kinds: ``"chunk"``, ``"entity"`` or both.
        mode: ``"hybrid"`` (vector and keyword, fused), ``"vector"`` or ``"keyword"``.
        user, password, database: Neo4j credentials (see :func:`kgbuild.store.open_store`).

    Returns:
        :class:`~kgbuild.search.models.SearchResults`, best hit first.

    Raises:
        InvalidQuery: the query is empty, too long or not text, or k / expand / kinds /
            mode is out of range (checked before the store is opened).
        FileNotFoundError: a ``.json`` path that does not exist.

    >>> hits = search("graph.json", "wind-turbine suppliers", k=5)  # doctest: +SKIP
    >>> hits.results[0].document, hits.results[0].text[:60]
    """
    check_query(query, k, expand)
    with _opened(store, user=user, password=password, database=database) as opened:
        return Searcher(opened).search(query, k, expand=expand, kinds=kinds, mode=mode)
