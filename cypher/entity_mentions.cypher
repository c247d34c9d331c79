// entity_mentions: every place in the documents where an entity is mentioned.
//
// Parameters:
//   $name  the entity's canonical name (Entity.name), e.g. "Alice Smith".
// Columns: text (the mention as written), label (its entity type), document_id,
// source, chunk_index, start, end (characters of the document text, so
// Document.text[start:end] == text), page (1-based PDF page, else null), section
// (heading path such as "Report > Results" in Markdown and Word, else null).
MATCH (m:Mention)-[:REFERS_TO]->(e:Entity)
MATCH (m)-[:IN_CHUNK]->(c:Chunk)
MATCH (c)-[:PART_OF]->(d:Document)
WHERE e.name = $name
RETURN m.text AS text, m.label AS label, d.id AS document_id, d.source AS source,
       c.index AS chunk_index, m.start AS start, m.end AS end, m.page AS page,
       m.section AS section
ORDER BY source ASC, start ASC
