// top_entities: the most mentioned entities.
//
// Parameters:
//   $limit  how many rows to return (an integer), e.g. 20.
// Columns: id, name, type, mentions (mention_count).
MATCH (e:Entity)
RETURN e.id AS id, e.name AS name, e.type AS type, e.mention_count AS mentions
ORDER BY mentions DESC, name ASC
LIMIT $limit
