// relation_provenance: from a relation back to the text behind it.
//
// Parameters:
//   $relation_id  the relation's id (Relation.id, e.g. "rel:…").
// Columns: document_id, source, chunk_index, chunk_text, head_text, head_start,
// head_end, tail_text, tail_start, tail_end (offsets are characters of the document
// text, so Document.text[head_start:head_end] == head_text), page and section of the
// head mention (1-based PDF page; heading path in Markdown and Word; else null).
//
// One row per pair of a head mention and a tail mention in the same chunk: every
// piece of evidence is one of these rows. A chunk that mentions the head or the tail
// twice gives every pairing, some of which the extractor may not have linked; the exact
// pairs are the lists returned by relation_evidence.cypher. (Matching mention ids
// against those lists needs `x IN r.list`, which grand-cypher cannot run.)
MATCH (h:Entity)-[r]->(t:Entity)
MATCH (hm:Mention)-[:REFERS_TO]->(h)
MATCH (tm:Mention)-[:REFERS_TO]->(t)
MATCH (hm)-[:IN_CHUNK]->(c:Chunk)
MATCH (tm)-[:IN_CHUNK]->(c)
MATCH (c)-[:PART_OF]->(d:Document)
WHERE r.id = $relation_id
RETURN d.id AS document_id, d.source AS source, c.index AS chunk_index,
       c.text AS chunk_text, hm.text AS head_text, hm.start AS head_start,
       hm.end AS head_end, tm.text AS tail_text, tm.start AS tail_start,
       tm.end AS tail_end, hm.page AS page, hm.section AS section
ORDER BY source ASC, chunk_index ASC, head_start ASC, tail_start ASC
