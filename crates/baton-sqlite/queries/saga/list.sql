-- Sagas newest first (ids are UUIDv7), optionally of one state or name, continuing before a cursor's id.
SELECT * FROM workflows
WHERE namespace = ?1 AND kind = 'saga'
  AND (?2 IS NULL OR state = ?2)
  AND (?3 IS NULL OR name = ?3)
  AND (?4 IS NULL OR workflow_id < ?4)
ORDER BY workflow_id DESC
LIMIT ?5
