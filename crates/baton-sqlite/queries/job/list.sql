-- Jobs in id (creation) order after ?6, with optional queue, state, type and tag filters.
SELECT * FROM jobs
WHERE namespace = ?1
  AND (?2 IS NULL OR queue = ?2)
  AND (?3 IS NULL OR state = ?3)
  AND (?4 IS NULL OR job_type = ?4)
  AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?5))
  AND (?6 IS NULL OR job_id > ?6)
ORDER BY job_id
LIMIT ?7
