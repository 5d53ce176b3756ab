-- Workflows newest first, optionally of one state or name, continuing before a cursor's (created_at, id).
SELECT * FROM workflows
WHERE namespace = $1 AND kind = 'workflow'
  AND ($2::text IS NULL OR state = $2)
  AND ($3::text IS NULL OR name = $3)
  AND ($4::bigint IS NULL OR (created_at, workflow_id) < ($4, $5))
ORDER BY created_at DESC, workflow_id DESC
LIMIT $6
