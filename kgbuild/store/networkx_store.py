"""The NetworkX backend: the whole knowledge graph in one ``MultiDiGraph``, saved as JSON.

The graph has exactly the shape documented in :mod:`kgbuild.store.base`, so Cypher
queries run on it as on Neo4j (through an embedded ArcadeDB copy, see
:mod:`kgbuild.store.cypher_embedded`; or grand-cypher, see
:mod:`kgbuild.store.cypher_networkx`):

* node key = the node's ``id`` property (ids are prefixed by kind: ``doc:``,
  ``chunk:``, ``mention:``, ``entity:``), node attribute ``__labels__`` = a set of
  labels (``{"Entity", "Person"}``), and every property of the shape as an attribute;
* edge attribute ``__labels__`` = ``{"WORKS_FOR"}``; edge key = the relation id for
  relation edges and the relationship type (``"PART_OF"``, ``"NEXT"``, ``"IN_CHUNK"``,
  ``"REFERS_TO"``) for provenance edges, so re-writing never duplicates an edge.

The file is node-link JSON (``{"nodes": [...], "edges": [...]}``, readable by
``networkx.node_link_graph(data, edges="edges")``) with label sets written as sorted
lists, nodes sorted by id and edges by (source, target, key): the same graph always
gives the same bytes. Saving writes a temporary file and renames it over the old one,
so a killed process never leaves a half-written file.

Example::

    with NetworkXStore("graph.json") as store:
        store.write_documents(graphs)
        rows = store.query("MATCH (e:Entity) RETURN e.name AS name ORDER BY name ASC")
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import networkx as nx

from kgbuild.schema import entity_label, relation_label
from kgbuild.store.base import (
    DocumentState,
    GraphStore,
    StoreError,
    check_document_graph,
    check_node_label,
    describe_entity,
    document_properties,
    mention_name_key,
    mention_short_key,
)
from kgbuild.store.cypher_embedded import EmbeddedCypher, MirrorSource, file_digest
from kgbuild.store.cypher_networkx import run_cypher
from kgbuild.types import DocumentGraph, Entity

__all__ = ["CYPHER_ENGINES", "NetworkXStore", "PROVENANCE_TYPES"]

logger = logging.getLogger(__name__)

#: Relationship types of the lexical/provenance part of the graph (not relations).
PROVENANCE_TYPES = frozenset({"PART_OF", "NEXT", "IN_CHUNK", "REFERS_TO"})
#: Recorded in the saved file so later versions can read or migrate it.
FILE_FORMAT = "kgbuild-networkx/1"
#: The parallel evidence lists of a relation edge, in the order of an evidence tuple.
EVIDENCE_FIELDS = (
    "document_ids",
    "chunk_ids",
    "head_mention_ids",
    "tail_mention_ids",
    "evidence_scores",
)

#: Cypher engines of :meth:`NetworkXStore.query` (``$KGBUILD_CYPHER_ENGINE`` picks the default).
CYPHER_ENGINES = ("arcadedb", "grand-cypher")

_Evidence = tuple[str, str, str, str, float]
_EdgeKey = tuple[str, str, str]


def _utc_now() -> datetime:
    """The time recorded as ``ingested_at`` (a function so tests can fix it)."""
    return datetime.now(UTC)


class NetworkXStore(GraphStore):
    """A knowledge graph in memory, loaded from and saved to a JSON file.

    Args:
        path: The JSON file. Loaded on :meth:`open` if it exists, written on
            :meth:`close` / :meth:`save`. ``None`` keeps the graph in memory only.
        cypher_engine: What runs :meth:`query`: ``"arcadedb"`` (default; full read-only
            Cypher on an embedded ArcadeDB copy of the graph, the same engine as the
            Bolt test server, see :mod:`kgbuild.store.cypher_embedded`) or
            ``"grand-cypher"`` (pure Python, a subset of Cypher, see
            :mod:`kgbuild.store.cypher_networkx`). Default: ``$KGBUILD_CYPHER_ENGINE``,
            else ``"arcadedb"``.

    The graph itself is :attr:`graph` (a ``networkx.MultiDiGraph``): read it with any
    NetworkX algorithm, but change it only through the store so its indexes stay right.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, cypher_engine: str | None = None
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.graph = nx.MultiDiGraph()
        engine = cypher_engine or os.environ.get("KGBUILD_CYPHER_ENGINE") or CYPHER_ENGINES[0]
        if engine not in CYPHER_ENGINES:
            raise ValueError(
                f"unknown Cypher engine {engine!r} (from cypher_engine or "
                f"KGBUILD_CYPHER_ENGINE); choose one of {', '.join(CYPHER_ENGINES)}"
            )
        self.cypher_engine = engine
        self._cypher: EmbeddedCypher | None = None
        # Bumped by every write, so the Cypher engine's copy of the graph is refreshed.
        self._revision = 0
        # (size, mtime, inode) of the file when the graph was last exactly its content
        # (loaded or saved), and that content's digest once computed: the Cypher mirror
        # of an unchanged file is kept on disk and reused (see _mirror_source).
        self._file_signature: tuple[int, int, int] | None = None
        self._file_digest: str | None = None
        self._opened = False
        self._dirty = False
        # Alias index: Entity.keys entry -> ids of entities holding it.
        self._key_index: dict[str, set[str]] = {}
        # Per entity: how many of its mentions have each text and give each key, so
        # describing an entity after a change costs its distinct forms, not its mentions.
        self._entity_texts: dict[str, Counter[str]] = {}
        self._entity_keys: dict[str, Counter[str]] = {}
        self._entity_merges: dict[str, Counter[str]] = {}
        # Per document: its chunk and mention nodes, and the relation edges it has evidence on.
        self._doc_nodes: dict[str, set[str]] = {}
        self._doc_relations: dict[str, set[_EdgeKey]] = {}

    def __repr__(self) -> str:
        return f"NetworkXStore({str(self.path) if self.path else None!r})"

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Load the graph file if it exists (safe to call again: loads only once)."""
        if self._opened:
            return
        if self.path is not None and self.path.exists():
            before = _signature(self.path)
            self.graph = _read_graph(self.path)
            # A file replaced while it was read is not known to match the graph.
            self._file_signature = before if _signature(self.path) == before else None
            logger.info("loaded %s: %s", self.path, self._count())
        self._rebuild_indexes()
        self._opened = True

    def close(self) -> None:
        """Save the graph if it changed (or its file does not exist yet); free the Cypher copy."""
        if self._cypher is not None:
            self._cypher.close()
            self._cypher = None
        if not self._opened or self.path is None:
            return
        if self._dirty or not self.path.exists():
            self.save()

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the graph atomically to ``path`` (default: the store's own file)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise StoreError("this NetworkXStore has no file: pass save(path=...)")
        self._ensure_open()
        _write_atomic(target, lambda out: _write_graph(self.graph, out))
        if target == self.path:
            self._dirty = False
            self._file_signature, self._file_digest = _signature(target), None
        logger.info("saved graph to %s", target)

    def _ensure_open(self) -> None:
        # Opening lazily means a store used without `with` still sees its file, and
        # close() never overwrites a file it has not read.
        if not self._opened:
            self.open()

    # -- GraphStore --------------------------------------------------------------------

    def setup_schema(self) -> None:
        """Nothing to create: the alias index is kept in memory."""
        self._ensure_open()

    def document_states(self) -> dict[str, DocumentState]:
        self._ensure_open()
        return {
            data["id"]: DocumentState(
                id=data["id"],
                source=data["source"],
                content_hash=data["content_hash"],
                model_id=data.get("model_id"),
                schema_fingerprint=data.get("schema_fingerprint"),
                overrides=data.get("overrides"),
            )
            for _, data in self.graph.nodes(data=True)
            if "Document" in data.get("__labels__", ())
        }

    def document_states_for(self, document_ids: Iterable[str]) -> dict[str, DocumentState]:
        """The states of the given documents that the graph holds (a lookup by node id)."""
        self._ensure_open()
        out = {}
        for doc_id in document_ids:
            data = self.graph.nodes.get(doc_id)
            if data is not None and "Document" in data.get("__labels__", ()):
                out[doc_id] = DocumentState(
                    id=data["id"],
                    source=data["source"],
                    content_hash=data["content_hash"],
                    model_id=data.get("model_id"),
                    schema_fingerprint=data.get("schema_fingerprint"),
                    overrides=data.get("overrides"),
                )
        return out

    def write_documents(self, graphs: Iterable[DocumentGraph]) -> None:
        """Replace each document's previous graph and write the new one.

        Each :class:`DocumentGraph` is checked first (a bad one raises ``ValueError``
        naming the document and leaves the graph untouched), then written.
        Idempotent: writing the same graph again gives the same graph.
        """
        self._ensure_open()
        for graph in graphs:
            entity_labels, relation_labels = self._check(graph)
            self._drop_or_recount(self._remove_document(graph.document.id))
            self._add_document(graph, entity_labels, relation_labels)
            self._dirty = True
            self._revision += 1

    def delete_documents(self, document_ids: Iterable[str]) -> None:
        """Remove documents, their chunks, mentions and evidence; drop what is left bare.

        Unknown ids are ignored, so deleting twice is harmless.
        """
        self._ensure_open()
        for doc_id in document_ids:
            touched = self._remove_document(doc_id)
            self._drop_or_recount(touched)
            self._dirty = True
            self._revision += 1

    def find_entities(self, keys: Iterable[str]) -> list[Entity]:
        """Entities whose ``keys`` hold any of ``keys``, sorted by id."""
        self._ensure_open()
        ids: set[str] = set()
        for key in keys:
            ids |= self._key_index.get(key, set())
        return [self._entity(i) for i in sorted(ids)]

    def entity_neighbours(self, entity_ids: Iterable[str]) -> dict[str, dict[str, set[str]]]:
        """Entities tied to each of ``entity_ids`` by a relation, with the relations'
        evidence documents (see GraphStore), from the graph's edges."""
        self._ensure_open()
        g = self.graph
        out: dict[str, dict[str, set[str]]] = {}
        for entity_id in dict.fromkeys(entity_ids):
            found: dict[str, set[str]] = {}
            if entity_id in g:
                edges = [
                    *((v, k, d) for _, v, k, d in g.out_edges(entity_id, keys=True, data=True)),
                    *((u, k, d) for u, _, k, d in g.in_edges(entity_id, keys=True, data=True)),
                ]
                for other, key, data in edges:
                    if (
                        key not in PROVENANCE_TYPES
                        and other != entity_id
                        and "Entity" in g.nodes[other].get("__labels__", ())
                    ):
                        found.setdefault(other, set()).update(data.get("document_ids") or ())
            out[entity_id] = found
        return out

    def entity_documents(self, entity_ids: Iterable[str]) -> dict[str, set[str]]:
        """Documents that mention each of ``entity_ids`` (see GraphStore), from the graph."""
        self._ensure_open()
        g = self.graph
        out: dict[str, set[str]] = {}
        for entity_id in dict.fromkeys(entity_ids):
            docs: set[str] = set()
            if entity_id in g:
                for mention_id, _, key in g.in_edges(entity_id, keys=True):
                    if key == "REFERS_TO":
                        docs.add(g.nodes[mention_id]["document_id"])
            out[entity_id] = docs
        return out

    def find_mentions(self, name_keys: Iterable[str]) -> list[dict[str, Any]]:
        """Mentions whose ``name_key`` is one of ``name_keys``, through the alias index (an
        entity holds its mentions' keys), without the Cypher engine."""
        self._ensure_open()
        wanted = set(name_keys)
        entity_ids: set[str] = set()
        for key in wanted:
            entity_ids |= self._key_index.get(key, set())
        rows = []
        g = self.graph
        for entity_id in sorted(entity_ids):
            for mention_id, _, key in g.in_edges(entity_id, keys=True):
                data = g.nodes[mention_id]
                if key == "REFERS_TO" and data.get("name_key") in wanted:
                    rows.append(
                        {
                            "document_id": data["document_id"],
                            "text": data["text"],
                            "label": data["label"],
                        }
                    )
        return rows

    def set_node_properties(self, label: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Set properties of existing ``label`` nodes by id (see GraphStore); unknown ids
        and nodes without that label are skipped, None removes a property."""
        self._ensure_open()
        check_node_label(label)
        changed = False
        for node_id, props in values.items():
            data = self.graph.nodes.get(node_id)
            if data is None or label not in data.get("__labels__", ()):
                continue
            for key, value in props.items():
                if key in ("id", "__labels__"):
                    raise ValueError(f"property {key!r} of {node_id} cannot be set")
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            changed = True
        if changed:
            self._dirty = True
            self._revision += 1

    def query(self, cypher: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts of column -> plain Python values, like Neo4j.

        With the default ``"arcadedb"`` engine the query runs on an embedded ArcadeDB
        copy of the graph: for a graph that is its saved file's content, the copy kept
        in kgbuild's cache for that file (built by the first query on that content, then
        reused by every process), else a private copy made by the first query after
        each write; see :mod:`kgbuild.store.cypher_embedded`. Raises
        :class:`~kgbuild.store.CypherError` for a query the engine cannot run, naming
        the construct (writes and procedures run on the Neo4j backend).
        """
        self._ensure_open()
        if self.cypher_engine == "grand-cypher":
            return run_cypher(self.graph, cypher, parameters)
        if self._cypher is None:
            self._cypher = EmbeddedCypher()
        return self._cypher.query(
            self.graph, self._revision, cypher, parameters, source=self._mirror_source()
        )

    def _mirror_source(self) -> MirrorSource | None:
        """The saved file whose content the graph is, for a kept Cypher mirror; None
        when the graph has unsaved writes, there is no file, or the file changed since
        it was loaded or saved (by another process)."""
        if self.path is None or self._dirty or self._file_signature is None:
            return None
        try:
            if _signature(self.path) != self._file_signature:
                return None
            if self._file_digest is None:
                digest = file_digest(self.path)
                if _signature(self.path) != self._file_signature:
                    return None
                self._file_digest = digest
        except OSError:
            return None
        return MirrorSource(self.path.resolve(), self._file_digest)

    def counts(self) -> dict[str, int]:
        self._ensure_open()
        return self._count()

    def _count(self) -> dict[str, int]:
        out = {"documents": 0, "chunks": 0, "mentions": 0, "entities": 0, "relations": 0}
        plural = {"Document": "documents", "Chunk": "chunks", "Mention": "mentions"}
        for _, labels in self.graph.nodes(data="__labels__", default=()):
            if "Entity" in labels:
                out["entities"] += 1
            for label, name in plural.items():
                if label in labels:
                    out[name] += 1
        for _, _, labels in self.graph.edges(data="__labels__", default=()):
            if not labels & PROVENANCE_TYPES:
                out["relations"] += 1
        return out

    # -- export ------------------------------------------------------------------------

    def export_json(self, path: str | os.PathLike[str]) -> None:
        """Write the graph as node-link JSON (the store's own file format)."""
        self.save(path)

    def export_graphml(self, path: str | os.PathLike[str]) -> None:
        """Write the graph as GraphML (for Gephi, yEd, Cytoscape).

        GraphML holds only scalars, so lists and label sets are written as JSON strings
        (``__labels__`` = ``'["Entity", "Person"]'``) and ``None`` values are left out.
        """
        self._ensure_open()
        out = nx.MultiDiGraph()
        for node, data in sorted(self.graph.nodes(data=True)):
            out.add_node(node, **_graphml_attributes(data))
        for u, v, k, data in sorted(self.graph.edges(keys=True, data=True)):
            out.add_edge(u, v, key=k, **_graphml_attributes(data))
        buffer = "\n".join(nx.generate_graphml(out, named_key_ids=True))
        _write_atomic(Path(path), buffer + "\n")

    # -- writing -----------------------------------------------------------------------

    def _check(self, graph: DocumentGraph) -> tuple[dict[str, str], dict[str, str]]:
        """Check a DocumentGraph before any change; return its entity and relation labels.

        Anything that would leave a dangling edge, a wrong label or a node shared with
        another document raises ``ValueError`` naming the document.
        """
        doc = graph.document
        where = check_document_graph(graph)
        entity_labels = {e.type: entity_label(e.type) for e in graph.entities}
        relation_labels = {r.type: relation_label(r.type) for r in graph.relations}
        chunk_ids = {c.id for c in graph.chunks}
        mention_ids = {m.id for m in graph.mentions}
        entity_ids = {e.id for e in graph.entities}

        def labels_of(node_id: str) -> set[str] | None:
            data = self.graph.nodes.get(node_id)
            return None if data is None else data.get("__labels__", set())

        if labels_of(doc.id) not in (None, {"Document"}):
            raise ValueError(f"{where}: its id is already used by a non-document node")
        own = self._doc_nodes.get(doc.id, set())
        for node_id in chunk_ids | mention_ids:
            if labels_of(node_id) is not None and node_id not in own:
                raise ValueError(f"{where}: id {node_id} already belongs to another node")
        for entity_id in entity_ids:
            if labels_of(entity_id) is not None and "Entity" not in labels_of(entity_id):
                raise ValueError(f"{where}: entity id {entity_id} is used by a non-entity node")

        def known_entity(entity_id: str) -> bool:
            return entity_id in entity_ids or "Entity" in (labels_of(entity_id) or ())

        for mention in graph.mentions:
            if mention.entity_id is not None and not known_entity(mention.entity_id):
                raise ValueError(
                    f"{where}: mention {mention.id} refers to unknown entity {mention.entity_id}"
                )
        for relation in graph.relations:
            for end in (relation.head_id, relation.tail_id):
                if not known_entity(end):
                    raise ValueError(f"{where}: relation {relation.id} links unknown entity {end}")
        return entity_labels, relation_labels

    def _remove_document(self, doc_id: str) -> set[str]:
        """Remove a document's node, chunks, mentions and evidence; return touched entities.

        Works from the store's indexes, not from the Document node, so it also cleans
        up after a write that never reached the Document node.
        """
        graph = self.graph
        touched: set[str] = set()
        if doc_id in graph:
            graph.remove_node(doc_id)
        for node in self._doc_nodes.pop(doc_id, set()):
            if node not in graph:
                continue
            for _, entity_id, key in graph.out_edges(node, keys=True):
                if key == "REFERS_TO":
                    touched.add(entity_id)
                    self._count_mention(entity_id, graph.nodes[node], -1)
            graph.remove_node(node)
        for u, v, k in self._doc_relations.pop(doc_id, set()):
            if not graph.has_edge(u, v, k):
                continue
            data = graph.edges[u, v, k]
            kept = [e for e in _evidence(data) if e[0] != doc_id]
            if kept:
                _set_evidence(data, kept)
            else:
                graph.remove_edge(u, v, k)
        return touched

    def _add_document(
        self,
        graph: DocumentGraph,
        entity_labels: dict[str, str],
        relation_labels: dict[str, str],
    ) -> None:
        """Write a checked DocumentGraph whose earlier version is already removed."""
        g = self.graph
        doc = graph.document
        nodes = self._doc_nodes.setdefault(doc.id, set())

        chunks = sorted(graph.chunks, key=lambda c: c.index)
        for chunk in chunks:
            g.add_node(chunk.id, __labels__={"Chunk"}, **chunk.model_dump(exclude_none=True))
            nodes.add(chunk.id)
        for before, after in zip(chunks, chunks[1:], strict=False):
            g.add_edge(before.id, after.id, key="NEXT", __labels__={"NEXT"})

        for entity in graph.entities:
            self._upsert_entity(entity, entity_labels[entity.type])

        for mention in graph.mentions:
            properties = mention.model_dump(exclude={"entity_id"}, exclude_none=True)
            name_key = mention_name_key(mention.keys)
            if name_key is not None:
                properties["name_key"] = name_key
            short_key = mention_short_key(mention.keys)
            if short_key is not None:
                properties["short_key"] = short_key
            g.add_node(mention.id, __labels__={"Mention"}, **properties)
            nodes.add(mention.id)
            g.add_edge(mention.id, mention.chunk_id, key="IN_CHUNK", __labels__={"IN_CHUNK"})
            if mention.entity_id is not None:
                g.add_edge(mention.id, mention.entity_id, key="REFERS_TO", __labels__={"REFERS_TO"})
                self._count_mention(mention.entity_id, properties, +1)

        edges = self._doc_relations.setdefault(doc.id, set())
        for relation in graph.relations:
            evidence = [
                (e.document_id, e.chunk_id, e.head_mention_id, e.tail_mention_id, e.score)
                for e in relation.evidence
                if e.document_id == doc.id
            ]
            if not evidence:
                logger.warning(
                    "relation %s has no evidence in document %s: not written", relation.id, doc.id
                )
                continue
            key = (relation.head_id, relation.tail_id, relation.id)
            if g.has_edge(*key):
                data = g.edges[key]
                evidence += _evidence(data)
            else:
                g.add_edge(
                    relation.head_id,
                    relation.tail_id,
                    key=relation.id,
                    __labels__={relation_labels[relation.type]},
                    id=relation.id,
                    type=relation.type,
                )
                data = g.edges[key]
            _set_evidence(data, evidence)
            edges.add(key)

        mentioned = {m.entity_id for m in graph.mentions if m.entity_id is not None}
        self._recount(mentioned | {e.id for e in graph.entities})

        # The Document node last: its presence marks the document as fully written.
        properties = document_properties(
            graph,
            model_id=self.model_id,
            schema_fingerprint=self.schema_fingerprint,
            ingested_at=_utc_now(),
        )
        g.add_node(doc.id, __labels__={"Document"}, id=doc.id, **properties)
        for chunk in chunks:
            g.add_edge(chunk.id, doc.id, key="PART_OF", __labels__={"PART_OF"})

    def _upsert_entity(self, entity: Entity, label: str) -> None:
        """Create an entity the store does not hold yet; :meth:`_recount` then derives its
        name, aliases and keys from its mentions (an entity no mention refers to keeps
        the ones it was created with)."""
        if entity.id in self.graph:
            return
        self.graph.add_node(
            entity.id,
            __labels__={"Entity", label},
            id=entity.id,
            name=entity.name,
            type=entity.type,
            label=label,
            aliases=_union(entity.aliases),
            mention_count=0,
            keys=_union(entity.keys),
        )
        self._index_keys(entity.id, (), self.graph.nodes[entity.id]["keys"])

    def _index_keys(self, entity_id: str, old: Iterable[str], new: Iterable[str]) -> None:
        """Move an entity in the alias index from keys ``old`` to keys ``new``."""
        new = set(new)
        for key in set(old) - new:
            ids = self._key_index.get(key)
            if ids is not None:
                ids.discard(entity_id)
                if not ids:
                    del self._key_index[key]
        for key in new:
            self._key_index.setdefault(key, set()).add(entity_id)

    def _count_mention(self, entity_id: str, mention: dict[str, Any], step: int) -> None:
        """Add (``step=1``) or remove (``-1``) a mention in its entity's form counts."""
        texts = self._entity_texts.setdefault(entity_id, Counter())
        keys = self._entity_keys.setdefault(entity_id, Counter())
        merges = self._entity_merges.setdefault(entity_id, Counter())
        texts[mention["text"]] += step
        for key in mention.get("keys", ()):
            keys[key] += step
        for merge in mention.get("merges", ()):
            merges[merge] += step

    def _recount(self, entity_ids: Iterable[str]) -> list[str]:
        """Set ``mention_count``, name, aliases and keys of these entities from their
        mentions (:func:`~kgbuild.store.base.describe_entity`); return those no mention
        refers to."""
        g = self.graph
        unmentioned = []
        for entity_id in entity_ids:
            data = g.nodes.get(entity_id)
            if data is None or "Entity" not in data.get("__labels__", ()):
                continue
            texts = +self._entity_texts.get(entity_id, Counter())  # + drops zero counts
            keys = +self._entity_keys.get(entity_id, Counter())
            merges = +self._entity_merges.get(entity_id, Counter())
            data["mention_count"] = sum(texts.values())
            described = describe_entity(texts, [list(keys)], [list(merges)])
            if described is None:
                unmentioned.append(entity_id)
                self._entity_texts.pop(entity_id, None)
                self._entity_keys.pop(entity_id, None)
                self._entity_merges.pop(entity_id, None)
                continue
            self._entity_texts[entity_id], self._entity_keys[entity_id] = texts, keys
            self._entity_merges[entity_id] = merges
            self._index_keys(entity_id, data.get("keys", ()), described.keys)
            data.update(described._asdict())
        return unmentioned

    def _drop_or_recount(self, entity_ids: Iterable[str]) -> None:
        """Recount mentions of entities that lost some; remove those left with none."""
        g = self.graph
        for entity_id in self._recount(entity_ids):
            self._index_keys(entity_id, g.nodes[entity_id].get("keys", ()), ())
            g.remove_node(entity_id)

    # -- reading -----------------------------------------------------------------------

    def _entity(self, entity_id: str) -> Entity:
        data = self.graph.nodes[entity_id]
        return Entity(
            id=data["id"],
            name=data["name"],
            type=data["type"],
            aliases=list(data.get("aliases", [])),
            mention_count=data.get("mention_count", 0),
            keys=list(data.get("keys", [])),
        )

    def _rebuild_indexes(self) -> None:
        """Recompute the alias index, the form counts and per-document indexes from the graph."""
        self._key_index.clear()
        self._entity_texts.clear()
        self._entity_keys.clear()
        self._entity_merges.clear()
        self._doc_nodes.clear()
        self._doc_relations.clear()
        for node, data in self.graph.nodes(data=True):
            labels = data.get("__labels__", set())
            if "Entity" in labels:
                for key in data.get("keys", ()):
                    self._key_index.setdefault(key, set()).add(node)
            elif labels & {"Chunk", "Mention"} and "document_id" in data:
                self._doc_nodes.setdefault(data["document_id"], set()).add(node)
        for u, v, k, data in self.graph.edges(keys=True, data=True):
            if k == "REFERS_TO":
                self._count_mention(v, self.graph.nodes[u], +1)
            if data.get("__labels__", set()) & PROVENANCE_TYPES:
                continue
            for doc_id in data.get("document_ids", ()):
                self._doc_relations.setdefault(doc_id, set()).add((u, v, k))


# -- evidence lists ----------------------------------------------------------------------


def _evidence(data: dict[str, Any]) -> list[_Evidence]:
    """A relation edge's parallel evidence lists as tuples."""
    return list(zip(*(data.get(f, []) for f in EVIDENCE_FIELDS), strict=True))


def _set_evidence(data: dict[str, Any], evidence: list[_Evidence]) -> None:
    """Store a relation edge's evidence lists and what derives from them (score, count).

    Entries are grouped by document, documents in id order, each document's entries in
    the order its graph gave them: the lists come out the same whatever order documents
    were written or re-written in, so re-writing a document never changes the graph.
    """
    evidence = sorted(evidence, key=lambda e: e[0])  # stable: keeps each document's order
    for i, field in enumerate(EVIDENCE_FIELDS):
        data[field] = [e[i] for e in evidence]
    data["score"] = max(data["evidence_scores"])
    data["evidence_count"] = len(evidence)


def _union(*lists: Iterable[str]) -> list[str]:
    """Items of all lists without repeats, in first-seen order."""
    return list(dict.fromkeys(item for items in lists for item in items))


# -- files -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    return value


def _node_items(graph: nx.MultiDiGraph) -> Iterator[dict[str, Any]]:
    for node, data in sorted(graph.nodes(data=True)):
        yield {**{k: _jsonable(v) for k, v in data.items()}, "id": node}


def _edge_items(graph: nx.MultiDiGraph) -> Iterator[dict[str, Any]]:
    for u, v, k, data in sorted(graph.edges(keys=True, data=True)):
        yield {**{k: _jsonable(v) for k, v in data.items()}, "source": u, "target": v, "key": k}


def _write_graph(graph: nx.MultiDiGraph, out: TextIO) -> None:
    """Canonical node-link JSON: sorted nodes, edges and keys; label sets as lists.

    Written one node or edge at a time, so saving needs no second copy of the graph in
    memory; the bytes are those of ``json.dumps(document, sort_keys=True, indent=1)``.
    """

    def items(name: str, values: Iterator[dict[str, Any]]) -> None:
        out.write(f' "{name}": [')
        empty = True
        for value in values:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)
            # "\n" occurs in JSON text only between tokens (strings escape it), so this
            # indents every line; textwrap would also split at U+2028 inside strings.
            out.write(("\n  " if empty else ",\n  ") + text.replace("\n", "\n  "))
            empty = False
        out.write("]" if empty else "\n ]")

    out.write('{\n "directed": true,\n')
    items("edges", _edge_items(graph))
    out.write(f',\n "graph": {{\n  "format": {json.dumps(FILE_FORMAT)}\n }},\n')
    out.write(' "multigraph": true,\n')
    items("nodes", _node_items(graph))
    out.write("\n}\n")


def _dumps(graph: nx.MultiDiGraph) -> str:
    """The graph file's text (see :func:`_write_graph`)."""
    buffer = io.StringIO()
    _write_graph(graph, buffer)
    return buffer.getvalue()


def _read_graph(path: Path) -> nx.MultiDiGraph:
    """Read a file written by :func:`_write_graph`, with a clear error for anything else.

    The garbage collector is paused meanwhile: the millions of small objects a large
    graph allocates would otherwise trigger full collections again and again.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        fmt = document.get("graph", {}).get("format")
        if fmt != FILE_FORMAT:
            raise ValueError(f"expected graph.format {FILE_FORMAT!r}, found {fmt!r}")
        graph = nx.MultiDiGraph()
        for node in document["nodes"]:
            data = dict(node)
            data["__labels__"] = set(data.get("__labels__", ()))
            graph.add_node(data["id"], **data)
        for edge in document.get("edges", document.get("links", [])):
            data = dict(edge)
            u, v, k = data.pop("source"), data.pop("target"), data.pop("key")
            data["__labels__"] = set(data.get("__labels__", ()))
            graph.add_edge(u, v, key=k, **data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"cannot read graph file {path}: {exc}") from exc
    finally:
        if gc_was_enabled:
            gc.enable()
    return graph


def _signature(path: Path) -> tuple[int, int, int]:
    """A file's size, modification time (ns) and inode: changes whenever it is rewritten
    (saving replaces the file, so even a same-size rewrite gets a new inode)."""
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _write_atomic(path: Path, text: str | Callable[[TextIO], None]) -> None:
    """Write text (or what a writer function writes) to a temporary file beside
    ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if callable(text):
                text(f)
            else:
                f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _graphml_attributes(data: dict[str, Any]) -> dict[str, Any]:
    """Attributes GraphML can hold: lists and sets as JSON strings, no ``None``."""
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, set | frozenset | list | tuple | dict):
            value = json.dumps(_jsonable(value), ensure_ascii=False)
        out[key] = value
    return out
