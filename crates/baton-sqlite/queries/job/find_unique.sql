-- The newest job holding a unique key in one of the given states (?4: a JSON array), created since ?5 if set.
SELECT * FROM jobs
WHERE namespace = ?1 AND queue = ?2 AND unique_key = ?3
  AND state IN (SELECT value FROM json_each(?4))
  AND (?5 IS NULL OR created_at >= ?5)
ORDER BY created_at DESC
LIMIT 1
