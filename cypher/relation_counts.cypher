// relation_counts: how many relations of each type the graph holds.
//
// Parameters: none.
// Columns: relation (relationship type, e.g. WORKS_FOR), relations (number of
// relation edges), evidence (number of text spans behind them).
MATCH (h:Entity)-[r]->(t:Entity)
RETURN type(r) AS relation, COUNT(r) AS relations, SUM(r.evidence_count) AS evidence
ORDER BY relations DESC, relation ASC
