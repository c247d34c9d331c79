"""The store interface every backend implements, and the graph shape they share.

Graph shape (identical on NetworkX and Neo4j, so the queries in ``cypher/`` run on both)::

    (:Document {id, source, content_hash, text, metadata (JSON string), kgbuild_version,
                model_id, schema_fingerprint, ingested_at, chunk_count, overrides})
    (:Chunk {id, document_id, index, start, end, text})-[:PART_OF]->(:Document)
    (:Chunk)-[:NEXT]->(:Chunk)                                  consecutive chunks of a document
    (:Mention {id, document_id, chunk_id, start, end, text, label, score, keys, name_key,
               short_key, merges})
        -[:IN_CHUNK]->(:Chunk)
    (:Mention)-[:REFERS_TO]->(:Entity)
    (:Entity:<TypeLabel> {id, name, type, label, aliases, mention_count, keys, merges})
    (:Entity)-[:<RELATION_TYPE> {id, type, score, evidence_count, document_ids, chunk_ids,
                                  head_mention_ids, tail_mention_ids, evidence_scores}]->(:Entity)

``<TypeLabel>`` is :func:`kgbuild.schema.entity_label` of the entity type ("work of
art" -> ``WorkOfArt``) and ``<RELATION_TYPE>`` is :func:`kgbuild.schema.relation_label`
("works for" -> ``WORKS_FOR``). A relation edge's evidence lists are parallel: entry
``i`` of ``document_ids``, ``chunk_ids``, ``head_mention_ids``, ``tail_mention_ids`` and
``evidence_scores`` describe one piece of evidence. Offsets are characters of
``Document.text``.

An entity's ``name``, ``aliases``, ``keys`` and ``merges`` are derived from the mentions
the store holds (:func:`describe_entity`), not from the history of writes: after any
sequence of writes and deletions they are what one clean ingest of the same documents
gives. ``merges`` (on mentions: why each is in its entity; on entities: all of their
mentions' reasons) are JSON objects, one per decision (see
:class:`kgbuild.resolve.MergeDecision`; ``kgbuild explain`` reads them).

Writing a document is all-or-redo: a store first removes whatever an earlier
(possibly interrupted) write of that document left behind, then writes chunks,
mentions, entities and relations, and writes the Document node last. A document
whose node is missing, or whose ``content_hash`` differs, is simply written again.
"""

from __future__ import annotations

import gc
import json
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel

from kgbuild._version import __version__
from kgbuild.schema import InvalidTypeName, entity_label, relation_label
from kgbuild.types import DocumentGraph, Entity

T = TypeVar("T")


class DocumentState(BaseModel):
    """What the store knows about a document already ingested."""

    id: str
    source: str
    content_hash: str
    model_id: str | None = None
    schema_fingerprint: str | None = None
    overrides: str | None = None
    """Fingerprint of the override entries applied to its names when it was resolved."""


class DocumentStateLookup(ABC):
    """Document states by id, for another process: picklable and read-only.

    :meth:`GraphStore.state_lookup` makes one in the process that holds the store; a
    worker elsewhere (a Ray actor of :mod:`kgbuild.pipeline.ray_engine`) calls it with the
    ids of the documents it loaded, to skip those the store holds unchanged::

        lookup = store.state_lookup()           # in the driver
        states = lookup(["doc:1", "doc:2"])     # in a worker: {id: DocumentState}
        lookup.close()                          # releases what the worker opened

    Its ``repr`` never shows a secret (a Neo4j lookup carries the password, which the
    worker needs to connect).
    """

    @abstractmethod
    def __call__(self, document_ids: Sequence[str]) -> dict[str, DocumentState]:
        """The states of those of ``document_ids`` that the store holds, by id."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release a connection the lookup opened (none by default)."""


class StateSnapshot(DocumentStateLookup):
    """The states a store held when the snapshot was taken (for stores held in memory).

    Kept as tuples, not models: the snapshot of a large store pickles small.
    """

    #: The fields of a DocumentState kept (all but its id, the key), in tuple order.
    FIELDS = tuple(name for name in DocumentState.model_fields if name != "id")

    def __init__(self, states: Mapping[str, DocumentState]) -> None:
        self._rows = {i: tuple(getattr(s, f) for f in self.FIELDS) for i, s in states.items()}

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"StateSnapshot({len(self._rows)} document(s))"

    def __call__(self, document_ids: Sequence[str]) -> dict[str, DocumentState]:
        out = {}
        for i in document_ids:
            if (row := self._rows.get(i)) is not None:
                out[i] = DocumentState(id=i, **dict(zip(self.FIELDS, row, strict=True)))
        return out


class EntityDescription(NamedTuple):
    """What an entity's mentions say about it (see :func:`describe_entity`)."""

    name: str
    aliases: list[str]
    keys: list[str]
    merges: list[str] = []


#: Labels of the node kinds of the graph shape (what set_node_properties accepts).
NODE_LABELS = ("Document", "Chunk", "Mention", "Entity")


def check_node_label(label: str) -> str:
    """``label`` if it is one of :data:`NODE_LABELS`, else ``ValueError`` naming it."""
    if label not in NODE_LABELS:
        raise ValueError(f"node label {label!r} is not one of {', '.join(NODE_LABELS)}")
    return label


#: Key kinds of a mention's own name: ``n:`` (a full name) or ``x:`` (a short form).
NAME_KEY_PREFIXES = ("n:", "x:")


def mention_name_key(keys: Iterable[str]) -> str | None:
    """The key of a mention's own name among its alias-index keys: the first ``n:`` or
    ``x:`` key (the resolver gives a full name ``n:<key>`` and more, a short form only
    ``x:<key>``), or None. Stores keep it as the Mention's ``name_key`` property, the
    alias index of :meth:`GraphStore.find_entities` for such keys."""
    return next((k for k in keys if k.startswith(NAME_KEY_PREFIXES)), None)


#: Key kinds under which a full name's short forms find it: ``l:`` (a person's surname),
#: ``h:`` (an organization name's first word).
SHORT_KEY_PREFIXES = ("l:", "h:")


def mention_short_key(keys: Iterable[str]) -> str | None:
    """The key under which a mention's full name can be found by a short form of it (the
    first ``l:`` or ``h:`` key: "l:vogt" for "Lena Vogt", "h:nordwind" for "Nordwind
    Energie GmbH"), or None. Stores keep it as the Mention's ``short_key`` property, so
    that a short form in a later run finds the full names of earlier runs by an index."""
    return next((k for k in keys if k.startswith(SHORT_KEY_PREFIXES)), None)


def describe_entity(
    text_counts: Mapping[str, int],
    key_lists: Iterable[Iterable[str]],
    merge_lists: Iterable[Iterable[str]] = (),
) -> EntityDescription | None:
    """An entity's name, aliases and alias-index keys from its mentions.

    ``text_counts``: how many mentions have each text; ``key_lists``: the keys the
    resolver gave the mentions (:attr:`kgbuild.types.Mention.keys`).

    * ``name``: the fullest form (most words, then most characters; forms differing only
      in case count as one), written as most of its mentions write it (ties: the
      smallest text). So "CERN" x3 and "cern" x1 give "CERN", and "Barack Obama"
      beats "Obama" however often each occurs.
    * ``aliases``: the distinct mention texts, sorted; ``keys``: the union of the keys,
      sorted; ``merges``: the union of the mentions' merge decisions (``merge_lists``,
      :attr:`kgbuild.types.Mention.merges`), sorted.

    A function of the mentions alone, so no order of writes and deletions can change
    it. None when there are no mentions.
    """
    texts = {t: n for t, n in text_counts.items() if n > 0}
    if not texts:
        return None
    forms = {t.casefold() for t in texts}
    fullest = max(forms, key=lambda f: (len(f.split()), len(f), f))
    name = min((t for t in texts if t.casefold() == fullest), key=lambda t: (-texts[t], t))
    keys = sorted({k for keys in key_lists for k in keys})
    merges = sorted({m for merges in merge_lists for m in merges})
    return EntityDescription(name, sorted(texts), keys, merges)


def document_properties(
    graph: DocumentGraph,
    *,
    model_id: str | None,
    schema_fingerprint: str | None,
    ingested_at: datetime,
) -> dict[str, Any]:
    """The properties of a Document node (both stores), without ``id``.

    Unset ones are left out, as in Neo4j, where a null property does not exist.
    """
    doc = graph.document
    props = {
        "source": doc.source,
        "content_hash": doc.content_hash,
        "text": doc.text,
        "metadata": json.dumps(doc.metadata, sort_keys=True, ensure_ascii=False, default=str),
        "kgbuild_version": __version__,
        "model_id": model_id,
        "schema_fingerprint": schema_fingerprint,
        "ingested_at": ingested_at.isoformat(timespec="seconds"),
        "chunk_count": len(graph.chunks),
        "overrides": graph.overrides,
    }
    return {k: v for k, v in props.items() if v is not None}


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (process-wide; nested and threaded uses count).

    For building many small rows at once: each allocation burst makes Python's collector
    walk every object alive, the whole graph being written included, and on 100,000
    entities that was 70 % of the time spent making the rows. Rows hold no reference
    cycles; whatever else became garbage meanwhile is collected after.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced in a thread up to ``depth`` items ahead of the consumer.

    For Python work that can overlap with waiting on a server: the producer runs while
    the consumer's thread waits on a socket (which releases the GIL). An exception of the
    producer is raised here in place of the item it did not produce; a consumer that
    stops early (an exception, ``close()``) stops the producer after its current item.
    """
    buffer: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((done, exc))
        else:
            put((done, None))

    thread = threading.Thread(target=produce, name="kgbuild-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


class StoreError(RuntimeError):
    """A store operation failed for good (after retries); the message names what failed."""


def check_document_graph(graph: DocumentGraph) -> str:
    """Check what a DocumentGraph says about itself, before a store changes anything.

    Type names must map to safe labels (:class:`~kgbuild.schema.InvalidTypeName`); chunk
    and mention ids must be unique and belong to the document; the document's relation
    evidence must name chunks and mentions the graph holds. Raises ``ValueError`` naming
    the document; returns that name (``"document <id> (<source>)"``) for further checks
    a backend makes against what it already stores.
    """
    doc = graph.document
    where = f"document {doc.id} ({doc.source})"
    try:
        for e in graph.entities:
            entity_label(e.type)
        for r in graph.relations:
            relation_label(r.type)
    except InvalidTypeName as exc:
        raise InvalidTypeName(f"{where}: {exc}") from exc
    chunk_ids = {c.id for c in graph.chunks}
    mention_ids = {m.id for m in graph.mentions}
    if len(chunk_ids) != len(graph.chunks) or len(mention_ids) != len(graph.mentions):
        raise ValueError(f"{where}: duplicate chunk or mention ids")
    for chunk in graph.chunks:
        if chunk.document_id != doc.id:
            raise ValueError(f"{where}: chunk {chunk.id} belongs to {chunk.document_id}")
    for m in graph.mentions:
        if m.document_id != doc.id or m.chunk_id not in chunk_ids:
            raise ValueError(
                f"{where}: mention {m.id} points at document {m.document_id} / chunk "
                f"{m.chunk_id}, which this graph does not hold"
            )
    for relation in graph.relations:
        for ev in relation.evidence:
            # evidence of other documents is ignored when written
            if ev.document_id == doc.id and (
                ev.chunk_id not in chunk_ids
                or ev.head_mention_id not in mention_ids
                or ev.tail_mention_id not in mention_ids
            ):
                raise ValueError(
                    f"{where}: evidence of relation {relation.id} names a chunk or mention "
                    "this graph does not hold"
                )
    return where


class GraphStore(ABC):
    """A knowledge-graph backend. Use as a context manager to open and close it."""

    #: Recorded on documents; set by the pipeline before writing.
    model_id: str | None = None
    schema_fingerprint: str | None = None

    def __enter__(self) -> GraphStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:  # noqa: B027 - optional hook
        """Connect / load; check the connection with a clear error."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""

    @abstractmethod
    def setup_schema(self) -> None:
        """Create constraints and indexes (idempotent)."""

    @abstractmethod
    def document_states(self) -> dict[str, DocumentState]:
        """Every fully written document, by id: the ingestion state lives in the store."""

    def document_states_for(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        """The states of the given documents that the store holds, by id.

        A lookup by id for one batch of documents, so a run over millions of documents
        never holds them all (backends override it with an indexed lookup; this default
        filters :meth:`document_states`).
        """
        wanted = set(document_ids)
        return {i: s for i, s in self.document_states().items() if i in wanted}

    def state_lookup(self) -> DocumentStateLookup:
        """A picklable :class:`DocumentStateLookup` for workers in other processes.

        The default is a :class:`StateSnapshot` of :meth:`document_states` (right for a
        store held in memory); a server-backed store returns a lookup that connects to
        the server from the worker and looks documents up by id.
        """
        return StateSnapshot(self.document_states())

    # -- run marker: what a run saw, so a prune never needs every id in memory ------------

    def mark_seen(self, document_ids: Iterable[str], run_id: str) -> None:
        """Record that run ``run_id`` saw these documents in its input (see :meth:`unseen`).

        The default keeps the marks in memory (enough for a store that is in memory
        anyway); a server-backed store records them on its Document nodes.
        """
        marks = self.__dict__.setdefault("_seen_marks", {})
        for doc_id in document_ids:
            marks[doc_id] = run_id

    def unseen(self, run_id: str) -> list[DocumentState]:
        """Stored documents that run ``run_id`` did not mark as seen, sorted by source."""
        marks = self.__dict__.get("_seen_marks", {})
        return sorted(
            (s for i, s in self.document_states().items() if marks.get(i) != run_id),
            key=lambda s: s.source,
        )

    def clear_marks(self) -> None:
        """Forget every run's marks (called when a run ends; marks are not graph data)."""
        self.__dict__.pop("_seen_marks", None)

    @abstractmethod
    def write_documents(self, graphs: Iterable[DocumentGraph]) -> None:
        """Replace each document's previous evidence and write its graph (see module doc)."""

    @abstractmethod
    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Remove documents with their chunks, mentions and relation evidence.

        Entities and relations left without evidence are removed; the rest stay,
        with ``mention_count`` and evidence lists updated.
        """

    @abstractmethod
    def find_entities(self, keys: Iterable[str]) -> list[Entity]:
        """Entities whose alias index (``Entity.keys``) holds any of ``keys``."""

    def find_mentions(self, name_keys: Iterable[str]) -> list[dict[str, Any]]:
        """Mentions whose ``name_key`` is one of ``name_keys`` (``n:``/``x:`` keys), as
        ``{"document_id", "text", "label"}`` rows: which documents use a name (the
        overrides of :mod:`kgbuild.resolve.overrides` ask). An index seek per key on a
        server; backends may override it."""
        keys = list(dict.fromkeys(name_keys))
        if not keys:
            return []
        return self.query(
            "UNWIND $keys AS key MATCH (m:Mention {name_key: key}) "
            "RETURN m.document_id AS document_id, m.text AS text, m.label AS label",
            {"keys": keys},
        )

    def entity_neighbours(self, entity_ids: Iterable[str]) -> dict[str, dict[str, set[str]]]:
        """For each of ``entity_ids`` that the store holds: the entities a relation ties it
        to, either way, each with the documents that are the relations' evidence
        (``{id: {neighbour id: {document id, ...}}}``; evidence for short forms across
        runs, see :attr:`kgbuild.resolve.ResolverConfig.short_form_neighbours`). Backends
        may override it."""
        ids = list(dict.fromkeys(entity_ids))
        out: dict[str, dict[str, set[str]]] = {i: {} for i in ids}
        if not ids:
            return out
        rows = self.query(
            "UNWIND $ids AS id MATCH (e:Entity {id: id})-[r]-(n:Entity) "
            "RETURN id, n.id AS neighbour, r.document_ids AS documents",
            {"ids": ids},
        )
        for row in rows:
            if row["neighbour"] != row["id"]:
                docs = out[row["id"]].setdefault(row["neighbour"], set())
                docs.update(row["documents"] or ())
        return out

    def entity_documents(self, entity_ids: Iterable[str]) -> dict[str, set[str]]:
        """For each of ``entity_ids``: the ids of the documents that mention it (evidence
        for short forms across runs: entities that share a document). Backends may
        override it."""
        ids = list(dict.fromkeys(entity_ids))
        out: dict[str, set[str]] = {i: set() for i in ids}
        if not ids:
            return out
        rows = self.query(
            "UNWIND $ids AS id MATCH (:Entity {id: id})<-[:REFERS_TO]-(m:Mention) "
            "RETURN id, collect(DISTINCT m.document_id) AS documents",
            {"ids": ids},
        )
        for row in rows:
            out[row["id"]].update(row["documents"])
        return out

    def set_node_properties(self, label: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Set properties of existing ``label`` nodes, by id: ``{id: {property: value}}``.

        For properties derived after a write (kgbuild.search's entity vectors); ids the
        store does not hold are skipped, a value None removes the property. ``label`` is
        one of :data:`NODE_LABELS`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot set node properties")

    @abstractmethod
    def query(self, cypher: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts of column -> value."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Numbers of documents, chunks, mentions, entities and relations."""
