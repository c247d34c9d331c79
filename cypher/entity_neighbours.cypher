// entity_neighbours: the relations an entity takes part in, in either direction.
//
// Parameters:
//   $name  the entity's canonical name (Entity.name), e.g. "Acme Corp".
// Columns: head, relation (relationship type, e.g. WORKS_FOR), tail, score (best
// evidence score), evidence (number of text spans behind it), relation_id.
// One row per relation; the entity is the head or the tail.
MATCH (h:Entity)-[r]->(t:Entity)
WHERE h.name = $name OR t.name = $name
RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.score AS score,
       r.evidence_count AS evidence, r.id AS relation_id
ORDER BY score DESC, head ASC, relation ASC, tail ASC
