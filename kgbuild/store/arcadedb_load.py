"""Loading a NetworkX graph into an embedded ArcadeDB database: how the Cypher mirror
of :mod:`kgbuild.store.cypher_embedded` is built.

Nodes are grouped by label set and edges by relationship type; types are created up
front (a node with several labels gets the engine's composite type, the one
``CREATE (n:A:B)`` makes); rows cross to the engine through its bulk graph API as
JSON where JSON carries them exactly; an index on ``id`` is built per label.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from kgbuild.schema import SAFE_IDENTIFIER
from kgbuild.store.cypher_networkx import CypherError

__all__ = ["LOAD_BATCH", "NO_LABEL", "count_vertices_and_edges", "load_graph"]

#: Rows per bulk call while the mirror is built.
LOAD_BATCH = 20_000
#: The label of a node that has none (Cypher cannot look it up otherwise).
NO_LABEL = "_Node"


def _properties(data: Mapping[str, Any]) -> dict[str, Any]:
    """A node's or edge's attributes as Cypher properties (no ``__labels__``, no None)."""
    return {
        k: (sorted(v) if isinstance(v, set | frozenset) else list(v) if isinstance(v, tuple) else v)
        for k, v in data.items()
        if k != "__labels__" and v is not None
    }


def _node_id(node: Any, data: Mapping[str, Any]) -> Any:
    """The ``id`` property a node is looked up by: its own, else its NetworkX key."""
    value = data.get("id")
    return value if value is not None else str(node)


def _quote(name: str) -> str:
    """``name`` in backticks, after checking it is a label kgbuild could have written."""
    if name != NO_LABEL and not SAFE_IDENTIFIER.match(name):
        raise CypherError(f"label or relationship type {name!r} is not a safe identifier")
    return f"`{name}`"


def _json_exact(value: Any) -> bool:
    """Whether JSON carries ``value`` to the engine unchanged (what the bulk path needs)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_exact(v) for v in value)
    return False


def count_vertices_and_edges(db: Any) -> tuple[int, int]:
    """Vertices and edges in a database (from its buckets' counts: no scan)."""
    schema = db.get_java_database().getSchema()
    nodes = edges = 0
    for kind in schema.getTypes():
        count = int(db.get_java_database().countType(kind.getName(), False))
        name = str(kind.getClass().getSimpleName())
        if "Vertex" in name:
            nodes += count
        elif "Edge" in name:
            edges += count
    return nodes, edges


def load_graph(db: Any, graph: nx.MultiDiGraph) -> dict[str, float]:
    """Copy ``graph`` into the empty database ``db`` through the bulk graph API.

    Returns the seconds of each step (``schema``, ``vertices``, ``edges``, ``indexes``).
    """
    import jpype

    steps: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        steps[name] = round(now - clock, 3)
        clock = now

    java_db = db.get_java_database()
    schema = java_db.getSchema()
    labels_api = jpype.JClass("com.arcadedb.query.opencypher.Labels")
    array_list = jpype.JClass("java.util.ArrayList")

    # Nodes grouped by label set; edges by relationship type.
    by_labels: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for node, data in graph.nodes(data=True):
        labels = tuple(sorted(data.get("__labels__", ()))) or (NO_LABEL,)
        by_labels[labels].append(node)
    by_type: dict[str, list[tuple[Any, Any, dict[str, Any]]]] = defaultdict(list)
    for u, v, data in graph.edges(data=True):
        types = sorted(data.get("__labels__", ()))
        if len(types) != 1:
            raise CypherError(
                f"edge {u!r} -> {v!r} has relationship types {types}: Cypher needs exactly one"
            )
        by_type[types[0]].append((u, v, data))

    # Types first: the composite type of a label set is the one Cypher's CREATE makes.
    type_of: dict[tuple[str, ...], str] = {}
    single = sorted({label for labels in by_labels for label in labels})
    for label in single:
        _quote(label)
        schema.getOrCreateVertexType(label)
    for labels in sorted(by_labels):
        type_of[labels] = str(labels_api.ensureCompositeType(schema, array_list(list(labels))))
    for rel_type in sorted(by_type):
        _quote(rel_type)
        schema.getOrCreateEdgeType(rel_type)

    step("schema")
    rid: dict[Any, str] = {}
    batch = java_db.batch().withExpectedEdgeCount(max(graph.number_of_edges(), 1)).build()
    try:
        for labels in sorted(by_labels):
            nodes = by_labels[labels]
            for chunk in _chunks(nodes):
                rows = [
                    {**_properties(graph.nodes[n]), "id": _node_id(n, graph.nodes[n])}
                    for n in chunk
                ]
                rids = _create_vertices(batch, type_of[labels], rows)
                rid.update(zip(chunk, rids, strict=True))
        step("vertices")
        for rel_type in sorted(by_type):
            for chunk in _chunks(by_type[rel_type]):
                _create_edges(
                    batch,
                    rel_type,
                    [(rid[u], rid[v], _properties(data)) for u, v, data in chunk],
                )
    finally:
        batch.close()  # writes the buffered edges and connects their incoming side
    step("edges")
    # One index on id per label, as the Neo4j backend's schema has for its node kinds:
    # what ``CREATE INDEX FOR (n:Label) ON (n.id)`` makes (a STRING property, a
    # non-unique LSM tree over the label's and its composite types' buckets), built
    # after the load and through the schema API (no Cypher parser on the build path).
    string = jpype.JClass("com.arcadedb.schema.Type").STRING
    lsm_tree = jpype.JClass("com.arcadedb.schema.Schema$INDEX_TYPE").LSM_TREE
    for label in single:
        vertex_type = schema.getType(label)
        if not vertex_type.existsProperty("id"):
            vertex_type.createProperty("id", string)
        schema.getOrCreateTypeIndex(lsm_tree, False, label, jpype.JArray(jpype.JString)(["id"]))
    step("indexes")
    return steps


def _java_values(row: Mapping[str, Any]) -> Any:
    """A property row as the engine's varargs: name, value, name, value, ..."""
    import jpype
    from arcadedb_embedded import convert_python_to_java

    values: list[Any] = []
    for key, value in row.items():
        values += [key, convert_python_to_java(value)]
    return jpype.JArray(jpype.JObject)(values)


def _create_vertices(batch: Any, type_name: str, rows: list[dict[str, Any]]) -> list[str]:
    """Create vertices of ``type_name``, one per property row; their RIDs, in order.

    Rows whose values JSON carries exactly (strings, numbers, booleans and lists of
    them: all kgbuild writes) cross to the engine as one JSON text; others as Java
    values, row by row (slower, same result).
    """
    import jpype

    if all(_json_exact(v) for row in rows for v in row.values()):
        batcher = jpype.JClass("com.arcadedb.python.VertexBatcher")
        joined = str(batcher.createVerticesJson(batch, type_name, json.dumps(rows)))
        rids = joined.split(";") if joined else []
    else:
        matrix = jpype.JArray(jpype.JObject[:])([_java_values(row) for row in rows])
        rids = [str(r) for r in batch.createVertices(type_name, matrix)]
    if len(rids) != len(rows):
        raise CypherError(f"the engine created {len(rids)} of {len(rows)} {type_name} vertices")
    return rids


def _create_edges(batch: Any, rel_type: str, edges: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Buffer edges of ``rel_type``: (source RID, target RID, properties) each.

    As for vertices, JSON-exact rows cross as one JSON text (the RIDs as ``_src`` and
    ``_dst``), others one by one.
    """
    import jpype

    if all(
        "_src" not in p and "_dst" not in p and all(_json_exact(v) for v in p.values())
        for _, _, p in edges
    ):
        rows = [{**p, "_src": src, "_dst": dst} for src, dst, p in edges]
        jpype.JClass("com.arcadedb.python.EdgeBatcher").newEdgesJson(
            batch, rel_type, json.dumps(rows)
        )
        return
    rid_class = jpype.JClass("com.arcadedb.database.RID")
    for src, dst, properties in edges:
        batch.newEdge(rid_class(src), rel_type, rid_class(dst), _java_values(properties))


def _chunks(rows: list[Any], size: int = LOAD_BATCH) -> Iterable[list[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]
