// entities_by_type: every entity of one type, most mentioned first.
//
// Parameters:
//   $type  the entity type phrase as given in the schema, e.g. "person", "work of art".
// Columns: id, name, type, mentions (mention_count), aliases (list).
MATCH (e:Entity)
WHERE e.type = $type
RETURN e.id AS id, e.name AS name, e.type AS type, e.mention_count AS mentions,
       e.aliases AS aliases
ORDER BY mentions DESC, name ASC
