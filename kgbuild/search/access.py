"""What search reads from a store and writes back, for both backends.

:class:`GraphReader` is the small interface; :class:`NetworkXReader` reads the graph in
memory directly (no Cypher engine, no JVM), :class:`CypherReader` asks any Bolt server
with parameterised Cypher. Both return the same rows for the same graph, sorted the same
way, so search ranks the same on both stores (``tests/search`` checks it on the real
Bolt server).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from kgbuild.store.base import GraphStore
from kgbuild.store.networkx_store import PROVENANCE_TYPES, NetworkXStore

__all__ = ["CypherReader", "GraphReader", "NetworkXReader", "reader_for"]

#: Mentions whose context describes an entity (see :meth:`GraphReader.entity_inputs`).
CONTEXT_MENTIONS = 1


class GraphReader(ABC):
    """Reads chunks, entities and their evidence for search; writes entity vectors."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    # -- for the index -----------------------------------------------------------------------

    @abstractmethod
    def document_rows(self) -> list[tuple[Any, ...]]:
        """(id, content_hash, ingested_at, model_id, overrides) of every document."""

    def fingerprint(self) -> str:
        """Changes whenever a document is written or removed (the index is rebuilt then)."""
        rows = sorted(tuple("" if v is None else str(v) for v in r) for r in self.document_rows())
        digest = hashlib.sha256(json.dumps(rows).encode())
        digest.update(json.dumps(sorted(self.store.counts().items())).encode())
        # Vectors added to stored nodes (embeddings turned on later) change no document.
        digest.update(json.dumps(self.vector_counts()).encode())
        return digest.hexdigest()

    @abstractmethod
    def vector_counts(self) -> list[int]:
        """[chunks, entities] that have a vector."""

    @abstractmethod
    def chunks(self) -> list[dict[str, Any]]:
        """Every chunk: ``{"id", "text", "embedding"}``, sorted by id."""

    @abstractmethod
    def entities(self) -> list[dict[str, Any]]:
        """Every entity: ``{"id", "name", "type", "aliases", "embedding"}``, sorted by id."""

    @abstractmethod
    def vectors_missing(self) -> bool:
        """True when the graph has chunks but none has a vector (ingested without
        ``--embeddings``): only keyword search can answer then."""

    # -- for embedding -----------------------------------------------------------------------

    @abstractmethod
    def chunk_embeddings(self, ids: Iterable[str]) -> dict[str, tuple[str, list[float]]]:
        """Stored (text, embedding) of the given chunks that have one."""

    @abstractmethod
    def chunks_without_vectors(self) -> list[dict[str, Any]]:
        """``{"id", "text"}`` of every chunk without a vector (written while embeddings
        were off), sorted by id."""

    @abstractmethod
    def stale_entities(self) -> list[str]:
        """Entities whose vector is missing or was made from another set of mentions
        (``embedding_mentions`` differs from ``mention_count``), sorted."""

    @abstractmethod
    def entity_inputs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """For each entity: ``{"id", "name", "type", "mention_count", "mentions": [{"text",
        "start", "end", "chunk_id", "chunk_text", "chunk_start"}]}`` with its
        :data:`CONTEXT_MENTIONS` strongest mentions (score, then id)."""

    # -- for results -------------------------------------------------------------------------

    @abstractmethod
    def chunk_details(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per chunk: its properties, ``source`` of its document, ``mentions`` (with
        ``entity_id``) and ``relations`` with evidence in it (see :func:`relation_row`)."""

    @abstractmethod
    def entity_details(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per entity: its properties and ``best_chunk``, the chunk of its strongest mention."""

    @abstractmethod
    def entity_rows(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Per entity (those of ``ids`` that exist): its properties only."""

    @abstractmethod
    def neighbourhood(self, entity_ids: list[str]) -> list[dict[str, Any]]:
        """Relations with an end among ``entity_ids`` (one hop), as :func:`relation_row`."""


def relation_row(
    rid: str, head: dict[str, Any], tail: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    """One relation as search reports it: ends, type, score and evidence lists."""
    return {
        "id": rid,
        "type": data.get("type"),
        "score": data.get("score"),
        "head_id": head.get("id"),
        "head": head.get("name"),
        "tail_id": tail.get("id"),
        "tail": tail.get("name"),
        "document_ids": list(data.get("document_ids", [])),
        "chunk_ids": list(data.get("chunk_ids", [])),
        "head_mention_ids": list(data.get("head_mention_ids", [])),
        "tail_mention_ids": list(data.get("tail_mention_ids", [])),
        "evidence_scores": list(data.get("evidence_scores", [])),
    }


_CHUNK_FIELDS = ("id", "document_id", "index", "start", "end", "text", "page", "section")
_MENTION_FIELDS = ("id", "start", "end", "text", "label", "score", "page", "section")
_ENTITY_FIELDS = ("id", "name", "type", "aliases", "mention_count")


def _pick(data: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {f: data.get(f) for f in fields}


class NetworkXReader(GraphReader):
    """Reads a :class:`~kgbuild.store.networkx_store.NetworkXStore`'s graph in memory."""

    store: NetworkXStore

    def _nodes(self, label: str) -> Iterable[tuple[str, dict[str, Any]]]:
        for node, data in self.store.graph.nodes(data=True):
            if label in data.get("__labels__", ()):
                yield node, data

    def document_rows(self) -> list[tuple[Any, ...]]:
        return [
            (d["id"], d.get("content_hash"), d.get("ingested_at"), d.get("model_id"),
             d.get("overrides"))
            for _, d in self._nodes("Document")
        ]  # fmt: skip

    def chunks(self) -> list[dict[str, Any]]:
        rows = [
            {"id": n, "text": d["text"], "embedding": d.get("embedding")}
            for n, d in self._nodes("Chunk")
        ]
        return sorted(rows, key=lambda r: r["id"])

    def entities(self) -> list[dict[str, Any]]:
        rows = [
            {
                "id": n,
                "name": d["name"],
                "type": d["type"],
                "aliases": list(d.get("aliases", [])),
                "embedding": d.get("embedding"),
            }
            for n, d in self._nodes("Entity")
        ]
        return sorted(rows, key=lambda r: r["id"])

    def chunk_embeddings(self, ids: Iterable[str]) -> dict[str, tuple[str, list[float]]]:
        out = {}
        for i in ids:
            d = self.store.graph.nodes.get(i)
            if d is not None and d.get("embedding") is not None:
                out[i] = (d["text"], d["embedding"])
        return out

    def vector_counts(self) -> list[int]:
        return [
            sum(d.get("embedding") is not None for _, d in self._nodes(label))
            for label in ("Chunk", "Entity")
        ]

    def vectors_missing(self) -> bool:
        found = False
        for _, d in self._nodes("Chunk"):
            if d.get("embedding") is not None:
                return False
            found = True
        return found

    def chunks_without_vectors(self) -> list[dict[str, Any]]:
        return [{"id": c["id"], "text": c["text"]} for c in self.chunks() if c["embedding"] is None]

    def stale_entities(self) -> list[str]:
        return sorted(
            n
            for n, d in self._nodes("Entity")
            if d.get("embedding") is None or d.get("embedding_mentions") != d.get("mention_count")
        )

    def _mentions_of(self, entity_id: str) -> list[dict[str, Any]]:
        g = self.store.graph
        return [g.nodes[m] for m, _, k in g.in_edges(entity_id, keys=True) if k == "REFERS_TO"]

    @staticmethod
    def _strongest(mentions: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
        return sorted(mentions, key=lambda m: (-m["score"], m["id"]))[:n]

    def entity_inputs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        g = self.store.graph
        out = []
        for entity_id in ids:
            data = g.nodes.get(entity_id)
            if data is None or "Entity" not in data.get("__labels__", ()):
                continue
            mentions = []
            for m in self._strongest(self._mentions_of(entity_id), CONTEXT_MENTIONS):
                chunk = g.nodes[m["chunk_id"]]
                mentions.append(
                    {
                        "text": m["text"],
                        "start": m["start"],
                        "end": m["end"],
                        "chunk_id": m["chunk_id"],
                        "chunk_text": chunk["text"],
                        "chunk_start": chunk["start"],
                    }
                )
            out.append(
                {**_pick(data, ("id", "name", "type", "mention_count")), "mentions": mentions}
            )
        return out

    def _entity(self, entity_id: str) -> dict[str, Any]:
        return _pick(self.store.graph.nodes[entity_id], _ENTITY_FIELDS)

    def _relation(self, u: str, v: str, data: dict[str, Any]) -> dict[str, Any]:
        g = self.store.graph
        return relation_row(data["id"], g.nodes[u], g.nodes[v], data)

    def chunk_details(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        g = self.store.graph
        out = {}
        for chunk_id in ids:
            data = g.nodes.get(chunk_id)
            if data is None:
                continue
            row = _pick(data, _CHUNK_FIELDS)
            row["source"] = g.nodes.get(data["document_id"], {}).get("source")
            mentions, entity_ids = [], set()
            for m, _, k in g.in_edges(chunk_id, keys=True):
                if k != "IN_CHUNK":
                    continue
                mention = _pick(g.nodes[m], _MENTION_FIELDS)
                mention["entity_id"] = next(
                    (e for _, e, k2 in g.out_edges(m, keys=True) if k2 == "REFERS_TO"), None
                )
                if mention["entity_id"] is not None:
                    entity_ids.add(mention["entity_id"])
                mentions.append(mention)
            row["mentions"] = sorted(mentions, key=lambda m: (m["start"], m["id"]))
            row["entities"] = [self._entity(e) for e in sorted(entity_ids)]
            relations = {}
            for e in entity_ids:  # evidence here may name a mention of another chunk
                for u, v, data2 in [*g.out_edges(e, data=True), *g.in_edges(e, data=True)]:
                    if data2.get("__labels__", set()) & PROVENANCE_TYPES:
                        continue
                    if chunk_id in data2.get("chunk_ids", ()):
                        relations[data2["id"]] = self._relation(u, v, data2)
            row["relations"] = [relations[k] for k in sorted(relations)]
            out[chunk_id] = row
        return out

    def entity_details(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        g = self.store.graph
        out = {}
        for entity_id in ids:
            if entity_id not in g:
                continue
            row = self._entity(entity_id)
            best = self._strongest(self._mentions_of(entity_id), 1)
            row["best_chunk"] = best[0]["chunk_id"] if best else None
            out[entity_id] = row
        return out

    def entity_rows(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        g = self.store.graph
        return {e: self._entity(e) for e in ids if e in g}

    def neighbourhood(self, entity_ids: list[str]) -> list[dict[str, Any]]:
        g = self.store.graph
        relations = {}
        for e in entity_ids:
            if e not in g:
                continue
            for u, v, data in [*g.out_edges(e, data=True), *g.in_edges(e, data=True)]:
                if not data.get("__labels__", set()) & PROVENANCE_TYPES:
                    relations[data["id"]] = self._relation(u, v, data)
        return [relations[k] for k in sorted(relations)]


# -- Cypher (Neo4j and any Bolt server) ------------------------------------------------------

_DOCUMENTS = """
MATCH (d:Document)
RETURN d.id AS id, d.content_hash AS h, d.ingested_at AS t, d.model_id AS m, d.overrides AS o
"""
_CHUNKS = "MATCH (c:Chunk) RETURN c.id AS id, c.text AS text, c.embedding AS embedding"
_ENTITIES = """
MATCH (e:Entity)
RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases,
       e.embedding AS embedding
"""
_CHUNK_EMBEDDINGS = """
UNWIND $ids AS id MATCH (c:Chunk {id: id}) WHERE c.embedding IS NOT NULL
RETURN c.id AS id, c.text AS text, c.embedding AS embedding
"""
_STALE = """
MATCH (e:Entity)
WHERE e.embedding IS NULL OR e.embedding_mentions IS NULL
   OR e.embedding_mentions <> e.mention_count
RETURN e.id AS id
"""
_ENTITY_MENTIONS = """
UNWIND $ids AS id
MATCH (e:Entity {id: id})<-[:REFERS_TO]-(m:Mention)-[:IN_CHUNK]->(c:Chunk)
RETURN e.id AS entity_id, m.id AS id, m.score AS score, m.text AS text, m.start AS start,
       m.end AS end, m.chunk_id AS chunk_id
"""
_ENTITY_ROWS = """
UNWIND $ids AS id MATCH (e:Entity {id: id})
RETURN e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases,
       e.mention_count AS mention_count
"""
_CHUNK_ROWS = """
UNWIND $ids AS id MATCH (c:Chunk {id: id})
OPTIONAL MATCH (d:Document {id: c.document_id})
RETURN c.id AS id, c.document_id AS document_id, c.index AS index, c.start AS start,
       c.end AS end, c.text AS text, c.page AS page, c.section AS section, d.source AS source
"""
_CHUNK_MENTIONS = """
UNWIND $ids AS id
MATCH (:Chunk {id: id})<-[:IN_CHUNK]-(m:Mention)
OPTIONAL MATCH (m)-[:REFERS_TO]->(e:Entity)
RETURN m.chunk_id AS chunk_id, m.id AS id, m.start AS start, m.end AS end, m.text AS text,
       m.label AS label, m.score AS score, m.page AS page, m.section AS section,
       e.id AS entity_id
"""
_RELATIONS_OF = """
UNWIND $ids AS id
MATCH (h:Entity)-[r]->(t:Entity)
WHERE h.id = id OR t.id = id
RETURN DISTINCT r.id AS id, r.type AS type, r.score AS score, h.id AS head_id, h.name AS head,
       t.id AS tail_id, t.name AS tail, r.document_ids AS document_ids,
       r.chunk_ids AS chunk_ids, r.head_mention_ids AS head_mention_ids,
       r.tail_mention_ids AS tail_mention_ids, r.evidence_scores AS evidence_scores
"""
# The relations of given entities, one query per direction; each pattern starts at the
# entity looked up by id. ``(h:Entity)-[r]->(t:Entity {id: id})`` made ArcadeDB start at
# h, a scan of every entity per id: 9 s of a 10 s query on a 0.25 MB graph (profiled).
_RELATIONS_OUT = _RELATIONS_OF.replace(
    "MATCH (h:Entity)-[r]->(t:Entity)\nWHERE h.id = id OR t.id = id",
    "MATCH (h:Entity {id: id})-[r]->(t:Entity)",
)
_RELATIONS_IN = _RELATIONS_OF.replace(
    "MATCH (h:Entity)-[r]->(t:Entity)\nWHERE h.id = id OR t.id = id",
    "MATCH (t:Entity {id: id})<-[r]-(h:Entity)",
)
# Only those with evidence in given chunks (a hit's relations): the server filters, so the
# evidence lists of a busy entity's other relations never travel (7,332 rows -> 301 for
# the entities of 10 chunks of a 1 MB graph; 0.25 s -> 0.07 s).
_IN_CHUNKS = "\nWHERE any(c IN r.chunk_ids WHERE c IN $chunk_ids)\nRETURN DISTINCT"
_RELATIONS_OUT_IN_CHUNKS = _RELATIONS_OUT.replace("\nRETURN DISTINCT", _IN_CHUNKS)
_RELATIONS_IN_IN_CHUNKS = _RELATIONS_IN.replace("\nRETURN DISTINCT", _IN_CHUNKS)


class CypherReader(GraphReader):
    """Reads a Bolt store (Neo4j, the ArcadeDB test server) with parameterised Cypher."""

    def _q(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        return self.store.query(cypher, params)

    def document_rows(self) -> list[tuple[Any, ...]]:
        return [(r["id"], r["h"], r["t"], r["m"], r["o"]) for r in self._q(_DOCUMENTS)]

    def chunks(self) -> list[dict[str, Any]]:
        return sorted(self._q(_CHUNKS), key=lambda r: r["id"])

    def entities(self) -> list[dict[str, Any]]:
        rows = self._q(_ENTITIES)
        for r in rows:
            r["aliases"] = list(r["aliases"] or [])
        return sorted(rows, key=lambda r: r["id"])

    def chunk_embeddings(self, ids: Iterable[str]) -> dict[str, tuple[str, list[float]]]:
        ids = list(ids)
        if not ids:
            return {}
        return {r["id"]: (r["text"], r["embedding"]) for r in self._q(_CHUNK_EMBEDDINGS, ids=ids)}

    def chunks_without_vectors(self) -> list[dict[str, Any]]:
        rows = self._q(
            "MATCH (c:Chunk) WHERE c.embedding IS NULL RETURN c.id AS id, c.text AS text"
        )
        return sorted(rows, key=lambda r: r["id"])

    def stale_entities(self) -> list[str]:
        return sorted(r["id"] for r in self._q(_STALE))

    def vector_counts(self) -> list[int]:
        return [
            self._q(f"MATCH (n:{label}) RETURN count(n.embedding) AS n")[0]["n"]
            for label in ("Chunk", "Entity")
        ]

    def vectors_missing(self) -> bool:
        if self._q("MATCH (c:Chunk) WHERE c.embedding IS NOT NULL RETURN c.id AS id LIMIT 1"):
            return False
        return bool(self._q("MATCH (c:Chunk) RETURN c.id AS id LIMIT 1"))

    def _mention_rows(self, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self._q(_ENTITY_MENTIONS, ids=ids):
            out.setdefault(r["entity_id"], []).append(r)
        return out

    def entity_inputs(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        if not ids:
            return []
        mentions = self._mention_rows(ids)
        chosen = {
            e: sorted(ms, key=lambda m: (-m["score"], m["id"]))[:CONTEXT_MENTIONS]
            for e, ms in mentions.items()
        }
        chunk_ids = sorted({m["chunk_id"] for ms in chosen.values() for m in ms})
        chunks = {r["id"]: r for r in self._q(_CHUNK_ROWS, ids=chunk_ids)} if chunk_ids else {}
        out = []
        for row in sorted(self._q(_ENTITY_ROWS, ids=ids), key=lambda r: ids.index(r["id"])):
            row.pop("aliases", None)
            row["mentions"] = [
                {
                    "text": m["text"],
                    "start": m["start"],
                    "end": m["end"],
                    "chunk_id": m["chunk_id"],
                    "chunk_text": chunks[m["chunk_id"]]["text"],
                    "chunk_start": chunks[m["chunk_id"]]["start"],
                }
                for m in chosen.get(row["id"], [])
            ]
            out.append(row)
        return out

    def _relations(
        self, entity_ids: list[str], chunk_ids: list[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Relations with an end among ``entity_ids``; with ``chunk_ids``, only those with
        evidence in one of those chunks."""
        if chunk_ids is None:
            rows = self._q(_RELATIONS_OUT, ids=entity_ids) + self._q(_RELATIONS_IN, ids=entity_ids)
        else:
            rows = self._q(_RELATIONS_OUT_IN_CHUNKS, ids=entity_ids, chunk_ids=chunk_ids)
            rows += self._q(_RELATIONS_IN_IN_CHUNKS, ids=entity_ids, chunk_ids=chunk_ids)
        out = {}
        for r in rows:
            for key in ("document_ids", "chunk_ids", "head_mention_ids", "tail_mention_ids",
                        "evidence_scores"):  # fmt: skip
                r[key] = list(r[key] or [])
            out[r["id"]] = r
        return out

    def chunk_details(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        out = {r["id"]: r for r in self._q(_CHUNK_ROWS, ids=ids)}
        mentions: dict[str, list[dict[str, Any]]] = {i: [] for i in out}
        for m in self._q(_CHUNK_MENTIONS, ids=ids):
            if m["chunk_id"] in mentions:
                mentions[m.pop("chunk_id")].append(m)
        entity_ids = sorted({m["entity_id"] for ms in mentions.values() for m in ms} - {None})
        entities = {r["id"]: r for r in self._q(_ENTITY_ROWS, ids=entity_ids)} if entity_ids else {}
        for r in entities.values():
            r["aliases"] = list(r["aliases"] or [])
        relations = self._relations(entity_ids, sorted(out)) if entity_ids else {}
        for chunk_id, row in out.items():
            ms = sorted(mentions[chunk_id], key=lambda m: (m["start"], m["id"]))
            row["mentions"] = ms
            mine = sorted({m["entity_id"] for m in ms} - {None})
            row["entities"] = [entities[e] for e in mine if e in entities]
            row["relations"] = [
                relations[k]
                for k in sorted(relations)
                if chunk_id in relations[k]["chunk_ids"]
                and (relations[k]["head_id"] in mine or relations[k]["tail_id"] in mine)
            ]
        return out

    def entity_details(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        mentions = self._mention_rows(ids)
        out = {}
        for row in self._q(_ENTITY_ROWS, ids=ids):
            row["aliases"] = list(row["aliases"] or [])
            best = sorted(mentions.get(row["id"], []), key=lambda m: (-m["score"], m["id"]))
            row["best_chunk"] = best[0]["chunk_id"] if best else None
            out[row["id"]] = row
        return out

    def entity_rows(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        out = {}
        for row in self._q(_ENTITY_ROWS, ids=ids):
            row["aliases"] = list(row["aliases"] or [])
            out[row["id"]] = row
        return out

    def neighbourhood(self, entity_ids: list[str]) -> list[dict[str, Any]]:
        if not entity_ids:
            return []
        relations = self._relations(entity_ids)
        return [relations[k] for k in sorted(relations)]


def reader_for(store: GraphStore) -> GraphReader:
    """The reader for ``store``: direct for NetworkX, Cypher for anything else."""
    if isinstance(store, NetworkXStore):
        return NetworkXReader(store)
    return CypherReader(store)
