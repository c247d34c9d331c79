"""What the viewer shows, read from any store through one set of portable Cypher queries.

:func:`load_view_graph` picks the entities to show (the most mentioned, one type, the
neighbourhood of one entity, or whatever a Cypher query returns), then reads their
relations, mentions, relation evidence, chunks and documents with the queries below.
They stay within the Cypher subset that runs both on Neo4j 5 (and ArcadeDB's Bolt
server) and on the NetworkX store (grand-cypher), so the two backends give the same
:class:`ViewGraph` and the same picture.

Every highlighted span is ``Document.text[start:end]`` with the offsets the store holds
(never re-tokenised); it is shown inside its sentence (``kgbuild.ingest.chunker``'s
regex splitter), and the sentence is cut into :class:`Piece` objects so the page only
has to put text next to text.

:func:`load_view_graph` also works out the shape of what it shows, so the page can open
on the part worth reading first: each entity's ``degree`` (relations on the page),
``rank`` (0 = most connected and mentioned), ``community`` (NetworkX's Louvain
communities of the connected entities, the clusters the layout starts from) and the
``documents`` it is mentioned in (the page's document filter).
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from kgbuild.ingest.chunker import split_sentences
from kgbuild.store.base import GraphStore

__all__ = [
    "Evidence",
    "MentionView",
    "Piece",
    "Selection",
    "ViewDocument",
    "ViewEntity",
    "ViewError",
    "ViewGraph",
    "ViewRelation",
    "load_view_graph",
]

logger = logging.getLogger(__name__)

#: Ids per ``IN $ids`` query: keeps the query text (grand-cypher) and parameters small.
BATCH = 1000
#: More ids than this: the NetworkX store is scanned instead (see :func:`_scans`).
SCAN_ABOVE = 50
#: A sentence longer than this many characters is cut to a window around its spans.
MAX_CONTEXT = 400
#: Characters kept on each side of the spans when a sentence is cut.
WINDOW = 150


class ViewError(ValueError):
    """A selection that cannot be shown (unknown entity or type, a query without entities)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Piece(_Model):
    """A stretch of sentence text; ``mark`` says which span it is, if any."""

    text: str
    mark: Literal["mention", "head", "tail"] | None = None


class MentionView(_Model):
    """One mention of an entity, in its sentence."""

    document_id: str
    source: str
    chunk_index: int | None
    start: int = Field(description="Character offset into the document text.")
    end: int
    text: str = Field(description="Document.text[start:end].")
    pieces: list[Piece]


class Evidence(_Model):
    """One piece of a relation's evidence: the sentence(s) holding its head and tail."""

    document_id: str
    source: str
    chunk_index: int | None
    score: float
    head_start: int
    head_end: int
    head_text: str
    tail_start: int
    tail_end: int
    tail_text: str
    pieces: list[Piece]


class ViewEntity(_Model):
    id: str
    name: str
    type: str
    aliases: list[str]
    mention_count: int
    mentions: list[MentionView] = Field(default_factory=list)
    mentions_left_out: int = 0
    documents: list[str] = Field(
        default_factory=list, description="Ids of the documents mentioning it (all, sorted)."
    )
    degree: int = Field(default=0, description="Relations on the page it takes part in.")
    rank: int = Field(
        default=0, description="0 for the most connected and mentioned entity on the page."
    )
    community: int | None = Field(
        default=None,
        description="Its cluster (0 = the largest) among connected entities; None without "
        "relations on the page.",
    )


class ViewRelation(_Model):
    id: str
    head: str = Field(description="Head entity id.")
    tail: str = Field(description="Tail entity id.")
    type: str
    score: float
    evidence_count: int
    evidence: list[Evidence] = Field(default_factory=list)
    evidence_left_out: int = 0
    documents: list[str] = Field(
        default_factory=list, description="Ids of the documents with its evidence (sorted)."
    )


class ViewDocument(_Model):
    """A document behind the page: the document filter lists them."""

    id: str
    source: str
    entity_count: int = Field(description="Entities on the page it mentions.")


class Selection(_Model):
    """Which part of the graph to show. At most one of query, entity, type."""

    query: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    entity: str | None = None
    hops: int = Field(default=1, ge=0)
    type: str | None = None
    limit: int = Field(default=1000, ge=1)
    max_evidence: int = Field(default=50, ge=0)

    def describe(self) -> str:
        if self.query is not None:
            return "entities returned by a Cypher query"
        if self.entity is not None:
            return f"{self.entity!r} and its neighbours within {self.hops} hop(s)"
        if self.type is not None:
            return f"entities of type {self.type!r}"
        return "most mentioned entities"


class ViewGraph(_Model):
    """Everything the page shows; ``entities_left_out`` / ``relations_left_out`` count
    what the selection matched but ``limit`` cut."""

    store: str
    selection: str
    entities: list[ViewEntity]
    relations: list[ViewRelation]
    documents: list[ViewDocument] = Field(default_factory=list)
    entities_left_out: int = 0
    relations_left_out: int = 0


# -- queries (portable Cypher; see kgbuild.store.cypher_networkx) ---------------------------

_ENTITY_COLUMNS = (
    "e.id AS id, e.name AS name, e.type AS type, e.aliases AS aliases, e.mention_count AS mentions"
)
_ENTITY_ORDER = "ORDER BY mentions DESC, name ASC"
ALL_ENTITIES = f"MATCH (e:Entity) RETURN {_ENTITY_COLUMNS} {_ENTITY_ORDER}"
ENTITIES_OF_TYPE = f"MATCH (e:Entity) WHERE e.type = $type RETURN {_ENTITY_COLUMNS} {_ENTITY_ORDER}"
ENTITIES_NAMED = f"MATCH (e:Entity) WHERE e.name = $name RETURN {_ENTITY_COLUMNS} {_ENTITY_ORDER}"


class ByIds(NamedTuple):
    """A read query over the rows whose ``key`` is in a set of ids.

    Run as ``MATCH ... WHERE key IN $ids RETURN ...`` in batches, or, where scanning is
    cheaper (an in-memory graph and many ids), as ``MATCH ... RETURN ...`` once with the
    rows filtered on ``column`` (the key as returned).
    """

    match: str
    key: str
    returns: str
    column: str

    def with_ids(self) -> str:
        return f"{self.match} WHERE {self.key} IN $ids {self.returns}"

    def scan(self) -> str:
        return f"{self.match} {self.returns}"


_RELATION_COLUMNS = (
    "h.id AS head, t.id AS tail, r.id AS id, r.type AS type, r.score AS score, "
    "r.evidence_count AS evidence_count, r.document_ids AS document_ids, "
    "r.chunk_ids AS chunk_ids, r.head_mention_ids AS head_mention_ids, "
    "r.tail_mention_ids AS tail_mention_ids, r.evidence_scores AS evidence_scores"
)
_RELATION = "MATCH (h:Entity)-[r]->(t:Entity)"
_ENDS = "RETURN h.id AS head, t.id AS tail, r.id AS id"
ENTITIES_BY_ID = ByIds(
    "MATCH (e:Entity)", "e.id", f"RETURN {_ENTITY_COLUMNS} {_ENTITY_ORDER}", "id"
)
RELATIONS_FROM = ByIds(_RELATION, "h.id", f"RETURN {_RELATION_COLUMNS}", "head")
RELATIONS_BY_ID = ByIds(_RELATION, "r.id", f"RETURN {_RELATION_COLUMNS}", "id")
RELATION_ENDS_FROM = ByIds(_RELATION, "h.id", _ENDS, "head")
RELATION_ENDS_TO = ByIds(_RELATION, "t.id", _ENDS, "tail")
MENTIONS_OF = ByIds(
    "MATCH (m:Mention)-[:REFERS_TO]->(e:Entity)",
    "e.id",
    "RETURN e.id AS entity_id, m.id AS id, m.document_id AS document_id, "
    "m.chunk_id AS chunk_id, m.start AS start, m.end AS end",
    "entity_id",
)
MENTIONS_BY_ID = ByIds(
    "MATCH (m:Mention)",
    "m.id",
    "RETURN m.id AS id, m.document_id AS document_id, m.chunk_id AS chunk_id, "
    "m.start AS start, m.end AS end",
    "id",
)
CHUNKS_BY_ID = ByIds("MATCH (c:Chunk)", "c.id", "RETURN c.id AS id, c.index AS index", "id")
DOCUMENTS_BY_ID = ByIds(
    "MATCH (d:Document)", "d.id", "RETURN d.id AS id, d.source AS source, d.text AS text", "id"
)
DOCUMENT_SOURCES = ByIds(
    "MATCH (d:Document)", "d.id", "RETURN d.id AS id, d.source AS source", "id"
)


def _batches(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), BATCH):
        yield list(items[start : start + BATCH])


def _scans(store: GraphStore, n_ids: int) -> bool:
    """Whether to scan and filter here rather than send ``n_ids`` ids to the store.

    The NetworkX store parses every id of ``IN [...]`` as Cypher text (grand-cypher), which
    costs more than matching the whole in-memory graph once; a server uses its indexes.
    """
    from kgbuild.store.networkx_store import NetworkXStore

    return isinstance(store, NetworkXStore) and n_ids > SCAN_ABOVE


def _rows_for(store: GraphStore, query: ByIds, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The rows of ``query`` whose key is one of ``ids``."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    if _scans(store, len(wanted)):
        keep = set(wanted)
        return [row for row in store.query(query.scan()) if row[query.column] in keep]
    rows: list[dict[str, Any]] = []
    for batch in _batches(wanted):
        rows.extend(store.query(query.with_ids(), {"ids": batch}))
    return rows


# -- choosing entities ----------------------------------------------------------------------


def _entity_view(row: dict[str, Any]) -> ViewEntity:
    return ViewEntity(
        id=row["id"],
        name=row["name"] or row["id"],
        type=row["type"] or "",
        aliases=list(row.get("aliases") or []),
        mention_count=int(row.get("mentions") or 0),
    )


def _ranked(entities: Iterable[ViewEntity]) -> list[ViewEntity]:
    return sorted(entities, key=lambda e: (-e.mention_count, e.name, e.id))


def _ids_in(value: Any, prefix: str) -> Iterator[str]:
    """Ids starting with ``prefix`` anywhere in a query result value (nodes are dicts)."""
    if isinstance(value, str):
        if value.startswith(prefix):
            yield value
    elif isinstance(value, dict):
        own = value.get("id")
        if isinstance(own, str) and own.startswith(prefix):
            yield own
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _ids_in(item, prefix)


def _choose(
    store: GraphStore, selection: Selection
) -> tuple[list[ViewEntity], set[str] | None, int]:
    """The entities to show, ranked (before ``limit``), the relation ids a query asked for
    (None: every relation between shown entities) and a count of matched entities."""
    if selection.query is not None:
        rows = store.query(selection.query, selection.parameters)
        entity_ids = {i for row in rows for v in row.values() for i in _ids_in(v, "entity:")}
        relation_ids = {i for row in rows for v in row.values() for i in _ids_in(v, "rel:")}
        if relation_ids:
            for row in _rows_for(store, RELATIONS_BY_ID, relation_ids):
                entity_ids.update((row["head"], row["tail"]))
        if not entity_ids:
            raise ViewError(
                f"the query returned {len(rows)} row(s) but no entities: return entity nodes "
                "or relationships (RETURN e, r) or their ids (RETURN e.id)"
            )
        found = [_entity_view(r) for r in _rows_for(store, ENTITIES_BY_ID, entity_ids)]
        return _ranked(found), relation_ids or None, len(found)

    if selection.type is not None:
        found = [_entity_view(r) for r in store.query(ENTITIES_OF_TYPE, {"type": selection.type})]
        if not found:
            types = sorted({e.type for e in map(_entity_view, store.query(ALL_ENTITIES))})
            raise ViewError(
                f"no entities of type {selection.type!r}; the graph has: "
                + (", ".join(types) or "no entities")
            )
        return _ranked(found), None, len(found)

    if selection.entity is not None:
        seeds = _find_seeds(store, selection.entity)
        distance = {e.id: 0 for e in seeds}
        frontier = set(distance)
        for hop in range(1, selection.hops + 1):
            if not frontier:
                break
            reached = {r["tail"] for r in _rows_for(store, RELATION_ENDS_FROM, frontier)}
            reached |= {r["head"] for r in _rows_for(store, RELATION_ENDS_TO, frontier)}
            frontier = reached - distance.keys()
            distance.update(dict.fromkeys(frontier, hop))
        found = [_entity_view(r) for r in _rows_for(store, ENTITIES_BY_ID, distance)]
        found.sort(key=lambda e: (distance[e.id], -e.mention_count, e.name, e.id))
        return found, None, len(found)

    found = [_entity_view(r) for r in store.query(ALL_ENTITIES)]
    return _ranked(found), None, len(found)


def _find_seeds(store: GraphStore, name: str) -> list[ViewEntity]:
    """Entities named ``name``; else those with it as a name or alias, ignoring case."""
    exact = [_entity_view(r) for r in store.query(ENTITIES_NAMED, {"name": name})]
    if exact:
        return exact
    everything = [_entity_view(r) for r in store.query(ALL_ENTITIES)]
    wanted = name.casefold()
    loose = [e for e in everything if wanted in {a.casefold() for a in [e.name, *e.aliases]}]
    if loose:
        return loose
    from rapidfuzz import process

    close = process.extract(name, sorted({e.name for e in everything}), limit=5, score_cutoff=60)
    hint = ", ".join(repr(c[0]) for c in close)
    if not everything:
        hint_text = " (the graph has no entities)"
    else:
        hint_text = f"; closest names: {hint}" if hint else " (nor any name or alias like it)"
    raise ViewError(f"no entity named {name!r}{hint_text}")


# -- text around spans ----------------------------------------------------------------------


class _Document:
    """A document's text and sentence starts, for cutting contexts."""

    def __init__(self, doc_id: str, source: str, text: str) -> None:
        self.id, self.source, self.text = doc_id, source, text
        self._sentences: list[tuple[int, int]] | None = None
        self._starts: list[int] = []

    def sentence_bounds(self, start: int, end: int) -> tuple[int, int]:
        """Start of the sentence holding ``start`` to the end of the one holding ``end``."""
        if self._sentences is None:
            self._sentences = split_sentences(self.text, "regex") or [(0, len(self.text))]
            self._starts = [s for s, _ in self._sentences]
        first = self._sentences[max(0, bisect_right(self._starts, start) - 1)]
        last = self._sentences[max(0, bisect_right(self._starts, max(start, end - 1)) - 1)]
        lo, hi = min(first[0], start), max(last[1], end)
        if hi - lo > MAX_CONTEXT:  # a run-on "sentence" (a table, a list): keep a window
            lo, hi = max(lo, start - WINDOW), min(hi, end + WINDOW)
        return lo, hi

    def pieces(self, spans: list[tuple[int, int, str]]) -> list[Piece]:
        """The sentence(s) around ``spans`` (start, end, mark), cut at the spans.

        A span overlapping an earlier one is not marked again (it stays inside it).
        """
        spans = sorted(spans)
        lo, hi = self.sentence_bounds(spans[0][0], max(e for _, e, _ in spans))
        out, pos = [], lo
        for start, end, mark in spans:
            if start < pos:
                continue
            if start > pos:
                out.append(Piece(text=self.text[pos:start]))
            out.append(Piece(text=self.text[start:end], mark=mark))  # type: ignore[arg-type]
            pos = end
        if pos < hi:
            out.append(Piece(text=self.text[pos:hi]))
        if lo > 0:
            out.insert(0, Piece(text="…"))
        if hi < len(self.text):
            out.append(Piece(text="…"))
        return out


# -- the whole view -------------------------------------------------------------------------


def load_view_graph(store: GraphStore, selection: Selection | None = None) -> ViewGraph:
    """Read what ``selection`` picks from an open ``store`` (see the module docs).

    Raises :class:`ViewError` for an unknown entity or type, or a query that returns no
    entities; store errors (bad Cypher, an unreachable server) propagate as they are.
    """
    selection = selection or Selection()
    ranked, wanted_relations, matched = _choose(store, selection)
    shown = ranked[: selection.limit]
    shown_ids = {e.id for e in shown}
    matched_ids = {e.id for e in ranked}

    kept_rows = [
        r
        for r in _rows_for(store, RELATIONS_FROM, shown_ids)
        if r["tail"] in shown_ids and (wanted_relations is None or r["id"] in wanted_relations)
    ]
    kept_rows.sort(key=lambda r: (-(r.get("evidence_count") or 0), r["id"]))
    relations_left_out = 0
    if len(shown) < len(ranked):  # count relations the limit cut (ids only, no evidence)
        relations_left_out = sum(
            1
            for r in _rows_for(store, RELATION_ENDS_FROM, matched_ids)
            if r["tail"] in matched_ids
            and (wanted_relations is None or r["id"] in wanted_relations)
            and not (r["head"] in shown_ids and r["tail"] in shown_ids)
        )

    mentions = _rows_for(store, MENTIONS_OF, shown_ids)
    by_entity: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in mentions:
        by_entity[m["entity_id"]].append(m)
    mention_rows = {m["id"]: m for m in mentions}
    evidence_ids = {
        i
        for r in kept_rows
        for i in [*(r["head_mention_ids"] or []), *(r["tail_mention_ids"] or [])]
    }
    missing = evidence_ids - mention_rows.keys()
    mention_rows.update({m["id"]: m for m in _rows_for(store, MENTIONS_BY_ID, missing)})

    cap = selection.max_evidence
    for rows in by_entity.values():
        rows.sort(key=lambda m: (m["document_id"], m["start"], m["end"]))
    used_mentions = [m for rows in by_entity.values() for m in rows[:cap]]
    used_evidence = [list(_evidence_rows(r))[:cap] for r in kept_rows]
    chunk_ids = {m["chunk_id"] for m in used_mentions} | {
        e[1] for rows in used_evidence for e in rows
    }
    doc_ids = {m["document_id"] for m in used_mentions} | {
        e[0] for rows in used_evidence for e in rows
    }
    chunks = {r["id"]: r["index"] for r in _rows_for(store, CHUNKS_BY_ID, chunk_ids)}
    documents = {
        r["id"]: _Document(r["id"], r["source"], r["text"] or "")
        for r in _rows_for(store, DOCUMENTS_BY_ID, doc_ids)
    }

    entities = []
    for entity in shown:
        rows = by_entity.get(entity.id, [])
        entity.mentions = [
            v for m in rows[:cap] if (v := _mention_view(m, documents, chunks)) is not None
        ]
        entity.mentions_left_out = max(0, len(rows) - cap)
        entity.documents = sorted({m["document_id"] for m in rows})
        entities.append(entity)

    relations = []
    for row, evidence_rows in zip(kept_rows, used_evidence, strict=True):
        evidence = []
        for doc_id, chunk_id, head_id, tail_id, score in evidence_rows:
            item = _evidence_view(
                doc_id, chunk_id, head_id, tail_id, score, documents, chunks, mention_rows
            )
            if item is not None:
                evidence.append(item)
        count = int(row.get("evidence_count") or len(row.get("document_ids") or []))
        relations.append(
            ViewRelation(
                id=row["id"],
                head=row["head"],
                tail=row["tail"],
                type=row["type"] or "",
                score=float(row["score"] or 0.0),
                evidence_count=count,
                evidence=evidence,
                evidence_left_out=max(0, count - len(evidence)),
                documents=sorted(set(row.get("document_ids") or [])),
            )
        )

    _add_structure(entities, relations)
    view = ViewGraph(
        store=_store_name(store),
        selection=selection.describe(),
        entities=entities,
        relations=relations,
        documents=_documents(store, entities, {d.id: d.source for d in documents.values()}),
        entities_left_out=matched - len(shown),
        relations_left_out=relations_left_out,
    )
    logger.info(
        "view of %s: %d entities (%d left out), %d relations (%d left out)",
        view.store,
        len(entities),
        view.entities_left_out,
        len(relations),
        view.relations_left_out,
    )
    return view


def _add_structure(entities: list[ViewEntity], relations: list[ViewRelation]) -> None:
    """Set each entity's ``degree``, ``rank`` and ``community`` (see the module docs).

    Communities are NetworkX's Louvain communities of the connected entities (weighted by
    evidence, fixed seed, nodes and edges added in a fixed order: the same graph gives the
    same communities), numbered by size, largest first, then by their best rank.
    """
    import networkx as nx

    degree: dict[str, int] = defaultdict(int)
    for relation in relations:
        degree[relation.head] += 1
        degree[relation.tail] += 1
    ordered = sorted(
        entities, key=lambda e: (-(degree[e.id] + e.mention_count), -degree[e.id], e.name, e.id)
    )
    for rank, entity in enumerate(ordered):
        entity.degree, entity.rank = degree[entity.id], rank
    graph = nx.Graph()
    graph.add_nodes_from(e.id for e in ordered if e.degree)
    for relation in sorted(relations, key=lambda r: r.id):
        if relation.head == relation.tail:
            continue
        weight = max(1, relation.evidence_count)
        if graph.has_edge(relation.head, relation.tail):
            graph[relation.head][relation.tail]["weight"] += weight
        else:
            graph.add_edge(relation.head, relation.tail, weight=weight)
    if not graph:
        return
    rank = {e.id: e.rank for e in entities}
    found = nx.community.louvain_communities(graph, weight="weight", seed=7)
    found.sort(key=lambda members: (-len(members), min(rank[m] for m in members)))
    community = {member: k for k, members in enumerate(found) for member in members}
    for entity in entities:
        entity.community = community.get(entity.id)


def _documents(
    store: GraphStore, entities: list[ViewEntity], known: dict[str, str]
) -> list[ViewDocument]:
    """The documents mentioning the shown entities, most entities first (``known``: the
    sources already read, by document id)."""
    counts: dict[str, int] = defaultdict(int)
    for entity in entities:
        for doc_id in entity.documents:
            counts[doc_id] += 1
    sources = dict(known)
    missing = counts.keys() - sources.keys()
    sources.update({r["id"]: r["source"] for r in _rows_for(store, DOCUMENT_SOURCES, missing)})
    found = [
        ViewDocument(id=doc_id, source=sources.get(doc_id) or doc_id, entity_count=n)
        for doc_id, n in counts.items()
    ]
    return sorted(found, key=lambda d: (-d.entity_count, d.source, d.id))


def _evidence_rows(row: dict[str, Any]) -> Iterator[tuple[str, str, str, str, float]]:
    lists = [
        row.get(k) or []
        for k in ("document_ids", "chunk_ids", "head_mention_ids", "tail_mention_ids")
    ]
    scores = row.get("evidence_scores") or []
    for i, (doc_id, chunk_id, head_id, tail_id) in enumerate(zip(*lists, strict=False)):
        yield doc_id, chunk_id, head_id, tail_id, float(scores[i]) if i < len(scores) else 0.0


def _mention_view(
    m: dict[str, Any], documents: dict[str, _Document], chunks: dict[str, int]
) -> MentionView | None:
    doc = documents.get(m["document_id"])
    if doc is None:
        return None
    start, end = int(m["start"]), int(m["end"])
    return MentionView(
        document_id=doc.id,
        source=doc.source,
        chunk_index=chunks.get(m["chunk_id"]),
        start=start,
        end=end,
        text=doc.text[start:end],
        pieces=doc.pieces([(start, end, "mention")]),
    )


def _evidence_view(
    doc_id: str,
    chunk_id: str,
    head_id: str,
    tail_id: str,
    score: float,
    documents: dict[str, _Document],
    chunks: dict[str, int],
    mentions: dict[str, dict[str, Any]],
) -> Evidence | None:
    doc, head, tail = documents.get(doc_id), mentions.get(head_id), mentions.get(tail_id)
    if doc is None or head is None or tail is None:
        logger.warning("evidence in %s names a mention or document the store lacks", doc_id)
        return None
    hs, he, ts, te = (int(head["start"]), int(head["end"]), int(tail["start"]), int(tail["end"]))
    return Evidence(
        document_id=doc.id,
        source=doc.source,
        chunk_index=chunks.get(chunk_id),
        score=score,
        head_start=hs,
        head_end=he,
        head_text=doc.text[hs:he],
        tail_start=ts,
        tail_end=te,
        tail_text=doc.text[ts:te],
        pieces=doc.pieces([(hs, he, "head"), (ts, te, "tail")]),
    )


def _store_name(store: GraphStore) -> str:
    """A name for the page header: the file name or the server URI (never a password)."""
    path = getattr(store, "path", None)
    if path is not None:
        return str(path)
    uri = getattr(store, "uri", None)
    if isinstance(uri, str):
        import re

        return re.sub(r"//[^/@]*@", "//", uri)
    return type(store).__name__
