// relation_evidence: the exact evidence lists of one relation.
//
// Parameters:
//   $relation_id  the relation's id (Relation.id, e.g. "rel:…"; see relation_counts or
//                 entity_neighbours for ids).
// Columns: head, relation, tail, score, plus the parallel lists document_ids, chunk_ids,
// head_mention_ids, tail_mention_ids, evidence_scores: entry i of each list is one
// piece of evidence. relation_provenance.cypher turns them into text spans.
MATCH (h:Entity)-[r]->(t:Entity)
WHERE r.id = $relation_id
RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.score AS score,
       r.document_ids AS document_ids, r.chunk_ids AS chunk_ids,
       r.head_mention_ids AS head_mention_ids, r.tail_mention_ids AS tail_mention_ids,
       r.evidence_scores AS evidence_scores
