// kgbuild graph schema: constraints and indexes, safe to run any number of times.
//
// Neo4jStore.setup_schema() runs every statement of this file (statements end with ';',
// lines starting with '//' are comments). Run it by hand with:
//   cypher-shell -u neo4j -p "$NEO4J_PASSWORD" -f cypher/schema.cypher
// Plain Cypher 5 only: it also runs on the ArcadeDB Bolt server used by the tests.

// One node per deterministic id (see kgbuild/ids.py); MERGE relies on these.
CREATE CONSTRAINT document_id IF NOT EXISTS FOR (n:Document) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT chunk_id IF NOT EXISTS FOR (n:Chunk) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT mention_id IF NOT EXISTS FOR (n:Mention) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE;

// Lookups by name and type (queries in cypher/, entity resolution).
CREATE INDEX entity_name IF NOT EXISTS FOR (n:Entity) ON (n.name);
CREATE INDEX entity_type IF NOT EXISTS FOR (n:Entity) ON (n.type);

// Re-writing or deleting a document finds its chunks and mentions by document id.
CREATE INDEX chunk_document_id IF NOT EXISTS FOR (n:Chunk) ON (n.document_id);
CREATE INDEX mention_document_id IF NOT EXISTS FOR (n:Mention) ON (n.document_id);

// The alias index behind find_entities(keys): a name's key (n:..., x:...) is the
// `name_key` of the mentions that use the name. No helper nodes: neither Neo4j's range
// indexes nor ArcadeDB index list elements such as Entity.keys.
CREATE INDEX mention_name_key IF NOT EXISTS FOR (n:Mention) ON (n.name_key);
// A full name's short-form key (l:surname, h:first word) is the `short_key` of its
// mentions: a short form in a later run finds the full names of earlier runs.
CREATE INDEX mention_short_key IF NOT EXISTS FOR (n:Mention) ON (n.short_key);
