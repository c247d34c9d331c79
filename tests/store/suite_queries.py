"""Cypher read queries as people write them, for the NetworkX and Bolt stores alike.

Each entry is ``(name, query, parameters, ordered)``. They run over one graph: the example
documents (``examples/docs``) ingested with the fake extractor, plus the two synthetic
documents of :mod:`sample_graphs` (Alice Smith, Bob Jones, Acme Corp, Paris). Queries
are written the way Neo4j's documentation writes them: single-quoted strings, lower-case
functions, ``OPTIONAL MATCH``, ``WITH ... WHERE``, ``collect()``, property maps in
patterns, both directions, parameters. ``ordered`` is True where the query orders its
rows completely, so the order must match too; otherwise rows are compared as a multiset.

Used by tests/store/test_cypher_suite.py and benchmarks/cypher_queries.py.
"""

# ruff: noqa: E501 - one query per line reads best

from __future__ import annotations

from typing import Any, NamedTuple

from sample_graphs import relation_id


class SuiteQuery(NamedTuple):
    name: str
    query: str
    parameters: dict[str, Any]
    ordered: bool


def _q(name: str, query: str, parameters: dict[str, Any] | None = None, ordered: bool = False):
    return SuiteQuery(name, " ".join(query.split()), parameters or {}, ordered)


SUITE: list[SuiteQuery] = [
    # -- counting and aggregation ---------------------------------------------------------
    _q("count_entities", "MATCH (e:Entity) RETURN count(e)"),
    _q("count_star_alias", "MATCH (e:Entity) RETURN count(*) AS n"),
    _q(
        "count_by_type",
        "MATCH (e:Entity) RETURN e.type AS type, count(e) AS n ORDER BY n DESC, type",
        ordered=True,
    ),
    _q("count_distinct", "MATCH (m:Mention) RETURN count(DISTINCT m.document_id) AS documents"),
    _q(
        "relation_types",
        "MATCH ()-[r]->() RETURN type(r) AS rel, count(*) AS n ORDER BY n DESC, rel",
        ordered=True,
    ),
    _q(
        "relation_types_between_entities",
        "MATCH (h:Entity)-[r]->(t:Entity) RETURN type(r), count(r)",
    ),
    _q(
        "mention_stats",
        "MATCH (e:Entity) RETURN e.type, min(e.mention_count) AS lo, max(e.mention_count) AS hi, sum(e.mention_count) AS total",
    ),
    _q(
        "average_score",
        "MATCH (:Entity)-[r:WORKS_FOR]->(:Entity) RETURN avg(r.score) AS mean, count(r) AS n",
    ),
    _q("labels_histogram", "MATCH (n:Entity) RETURN labels(n) AS labels, count(*) AS n"),
    _q("distinct_types", "MATCH (e:Entity) RETURN DISTINCT e.type"),
    # -- WHERE as people write it ---------------------------------------------------------
    _q("single_quoted_equals", "MATCH (e:Entity) WHERE e.name = 'Paris' RETURN e.name, e.type"),
    _q("property_map", "MATCH (e:Entity {name: 'Acme Corp'}) RETURN e.id, e.mention_count"),
    _q(
        "property_map_two_keys",
        "MATCH (e:Entity {name: 'Paris', type: 'location'}) RETURN e.aliases",
    ),
    _q("contains", "MATCH (e:Entity) WHERE e.name CONTAINS 'University' RETURN e.name"),
    _q("starts_with", "MATCH (e:Entity) WHERE e.name STARTS WITH 'Ada' RETURN e.name, e.type"),
    _q("ends_with", "MATCH (o:Organization) WHERE o.name ENDS WITH 'Corp' RETURN o.name"),
    _q("to_lower_equals", "MATCH (e:Entity) WHERE toLower(e.name) = 'paris' RETURN e.name"),
    _q(
        "to_lower_contains",
        "MATCH (e:Entity) WHERE toLower(e.name) CONTAINS 'nobel' RETURN e.name, e.mention_count",
    ),
    _q("regex", "MATCH (p:Person) WHERE p.name =~ 'Ma.*' RETURN p.name"),
    _q(
        "and_or_not",
        "MATCH (e:Entity) WHERE (e.type = 'organization' OR e.type = 'location') AND NOT e.name STARTS WITH 'The' RETURN e.name, e.type",
    ),
    _q(
        "in_literal_list",
        "MATCH (e:Entity) WHERE e.name IN ['Paris', 'Acme Corp', 'Nobody'] RETURN e.name",
    ),
    _q(
        "list_size",
        "MATCH (e:Entity) WHERE size(e.aliases) > 1 RETURN e.name, size(e.aliases) AS n",
    ),
    _q("value_in_list_property", "MATCH (e:Entity) WHERE 'acme' IN e.keys RETURN e.name"),
    _q("is_null", "MATCH (e:Entity) WHERE e.nickname IS NULL AND e.name = 'Paris' RETURN e.name"),
    _q("pattern_predicate", "MATCH (o:Organization) WHERE NOT (o)-[:LOCATED_IN]->() RETURN o.name"),
    _q(
        "exists_pattern",
        "MATCH (p:Person) WHERE exists((p)-[:WORKS_FOR]->()) RETURN count(p) AS employed",
    ),
    # -- patterns and directions ----------------------------------------------------------
    _q("works_for", "MATCH (p:Person)-[:WORKS_FOR]->(o:Organization) RETURN p.name, o.name"),
    _q(
        "incoming_with_count",
        "MATCH (o:Organization)<-[:WORKS_FOR]-(p:Person) RETURN o.name AS org, count(p) AS staff ORDER BY staff DESC, org",
        ordered=True,
    ),
    _q("undirected", "MATCH (a:Entity {name: 'Acme Corp'})-[r]-(b:Entity) RETURN b.name, type(r)"),
    _q(
        "two_hops",
        "MATCH (p:Person)-[:WORKS_FOR]->(o)-[:LOCATED_IN]->(l) RETURN p.name, o.name, l.name",
    ),
    _q(
        "colleagues",
        "MATCH (p:Person)-[:WORKS_FOR]->(o:Organization)<-[:WORKS_FOR]-(q:Person) WHERE p.name < q.name RETURN p.name, q.name, o.name",
    ),
    _q(
        "relationship_type_alternatives",
        "MATCH (h:Entity)-[r:WORKS_FOR|LOCATED_IN]->(t:Entity) WHERE t.name = 'Paris' OR h.name = 'Paris' RETURN h.name, type(r), t.name",
    ),
    _q(
        "provenance_chain",
        "MATCH (d:Document)<-[:PART_OF]-(:Chunk)<-[:IN_CHUNK]-(:Mention)-[:REFERS_TO]->(e:Entity {name: 'Paris'}) RETURN DISTINCT d.source",
    ),
    _q(
        "variable_length",
        "MATCH (c:Chunk {index: 0})-[:NEXT*1..2]->(n:Chunk) RETURN c.document_id, n.index",
    ),
    _q(
        "path_length",
        "MATCH p = (:Person {name: 'Alice Smith'})-[:WORKS_FOR]->(:Organization) RETURN length(p) AS hops, size(nodes(p)) AS nodes",
    ),
    _q(
        "return_path",
        "MATCH p = (:Person {name: 'Bob Jones'})-[:WORKS_FOR]->(:Organization) RETURN p",
    ),
    _q(
        "chunks_per_document",
        "MATCH (d:Document)<-[:PART_OF]-(c:Chunk) RETURN d.source AS source, count(c) AS chunks ORDER BY chunks DESC, source",
        ordered=True,
    ),
    # -- OPTIONAL MATCH, WITH, collect ----------------------------------------------------
    _q(
        "optional_match",
        "MATCH (o:Organization) OPTIONAL MATCH (o)-[:LOCATED_IN]->(l) RETURN o.name, l.name",
    ),
    _q(
        "optional_match_count",
        "MATCH (p:Person) WHERE p.name STARTS WITH 'M' OPTIONAL MATCH (p)-[r:WORKS_FOR]->() RETURN p.name, count(r) AS jobs",
    ),
    _q(
        "with_where",
        "MATCH (e:Entity)<-[:REFERS_TO]-(m:Mention) WITH e, count(m) AS n WHERE n > 3 RETURN e.name AS name, n ORDER BY n DESC, name",
        ordered=True,
    ),
    _q(
        "collect_ordered",
        "MATCH (o:Organization)<-[:WORKS_FOR]-(p:Person) WITH o, p ORDER BY p.name RETURN o.name, collect(p.name) AS people",
    ),
    _q(
        "collect_distinct",
        "MATCH (e:Entity {name: 'Acme Corp'})<-[:REFERS_TO]-(m:Mention) WITH DISTINCT m.text AS text ORDER BY text RETURN collect(text) AS texts",
    ),
    _q(
        "unwind_list_property",
        "MATCH (h)-[r:WORKS_FOR]->(t) WHERE h.name = 'Alice Smith' UNWIND r.document_ids AS doc RETURN doc",
    ),
    _q(
        "unwind_parameter",
        "UNWIND $names AS name MATCH (e:Entity {name: name}) RETURN name, e.type",
        {"names": ["Paris", "Bob Jones", "Nobody"]},
    ),
    _q(
        "with_computed",
        "MATCH (d:Document) WITH d, size(d.text) AS length RETURN d.source AS source, length ORDER BY length DESC, source LIMIT 3",
        ordered=True,
    ),
    # -- parameters -----------------------------------------------------------------------
    _q(
        "param_in_map",
        "MATCH (m:Mention)-[:REFERS_TO]->(e:Entity {name: $name}) RETURN m.text, m.start, m.end",
        {"name": "Alice Smith"},
    ),
    _q(
        "param_where",
        "MATCH (e:Entity) WHERE e.type = $type RETURN count(e) AS n",
        {"type": "organization"},
    ),
    _q(
        "param_list_in",
        "MATCH (e:Entity) WHERE e.name IN $names RETURN e.name, e.type",
        {"names": ["Paris", "Acme Corp"]},
    ),
    _q(
        "param_limit",
        "MATCH (e:Entity) WHERE e.mention_count >= $min RETURN e.name AS name, e.mention_count AS n ORDER BY n DESC, name LIMIT $limit",
        {"min": 2, "limit": 5},
        ordered=True,
    ),
    _q(
        "param_relation_id",
        "MATCH (h)-[r]->(t) WHERE r.id = $id RETURN h.name, type(r), t.name, r.evidence_count",
        {"id": relation_id("Alice Smith", "works for", "Acme Corp")},
    ),
    # -- returning values, nodes, relationships -------------------------------------------
    _q("return_nodes", "MATCH (e:Entity) RETURN e ORDER BY e.id LIMIT 3", ordered=True),
    _q(
        "return_relationships",
        "MATCH (:Entity)-[r:WORKS_FOR]->(:Entity) RETURN r ORDER BY r.id LIMIT 3",
        ordered=True,
    ),
    _q(
        "skip_limit",
        "MATCH (e:Entity) RETURN e.name AS name ORDER BY name SKIP 5 LIMIT 5",
        ordered=True,
    ),
    _q(
        "string_functions",
        "MATCH (e:Entity {type: 'organization'}) RETURN toUpper(e.name) AS upper, substring(e.name, 0, 3) AS prefix, replace(e.name, ' ', '_') AS slug",
    ),
    _q(
        "coalesce_case",
        "MATCH (e:Entity {type: 'location'}) RETURN e.name, coalesce(e.nickname, e.name) AS shown, CASE WHEN e.mention_count > 3 THEN 'often' ELSE 'rarely' END AS frequency",
    ),
    _q("properties_keys", "MATCH (e:Entity {name: 'Bob Jones'}) RETURN properties(e) AS props"),
    _q(
        "literal_map_and_list",
        "MATCH (e:Entity {name: 'Paris'}) RETURN {name: e.name, n: e.mention_count} AS summary, [e.type, e.name] AS pair",
    ),
    _q(
        "double_quoted_upper_case",
        'MATCH (e:Entity) WHERE e.name = "Acme Corp" RETURN COUNT(e) AS n',
    ),
    # -- dates and times: both stores return temporals as the Neo4j driver's ISO text -------
    _q(
        "temporal_values",
        "RETURN date('2024-01-02') AS d, datetime('2024-01-02T03:04:05Z') AS dt, localdatetime('2024-01-02T03:04:05.25') AS ldt, time('03:04:05+01:00') AS t, localtime('03:04:05.5') AS lt, duration('P1Y2M3DT4H5M6.5S') AS dur",
    ),
    _q(
        "temporal_arithmetic_from_properties",
        "MATCH (e:Entity {name: 'Acme Corp'}) RETURN date('2024-01-31') + duration({days: e.mention_count}) AS due, duration.between(date('2024-01-01'), date('2024-03-15')) AS span, datetime('2024-01-02T03:04:05Z') - duration('PT1H') AS earlier",
    ),
    _q(
        "temporal_components",
        "RETURN datetime('2024-05-06T07:08:09+02:00').year AS y, datetime('2024-05-06T07:08:09+02:00').hour AS h, date('2024-01-02').dayOfWeek AS dow, datetime('2024-05-06T07:08:09+02:00').epochSeconds AS epoch",
    ),
    _q(
        "temporal_order",
        "UNWIND ['2024-03-01', '2023-12-25', '2024-01-15'] AS s WITH date(s) AS d RETURN d ORDER BY d DESC",
        ordered=True,
    ),
]
