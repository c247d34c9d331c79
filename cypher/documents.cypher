// documents: every document in the graph, with how and when it was ingested.
//
// Parameters: none.
// Columns: id, source, chunks (chunk_count), content_hash, model_id,
// schema_fingerprint, kgbuild_version, ingested_at (ISO 8601, UTC).
MATCH (d:Document)
RETURN d.id AS id, d.source AS source, d.chunk_count AS chunks,
       d.content_hash AS content_hash, d.model_id AS model_id,
       d.schema_fingerprint AS schema_fingerprint, d.kgbuild_version AS kgbuild_version,
       d.ingested_at AS ingested_at
ORDER BY source ASC
