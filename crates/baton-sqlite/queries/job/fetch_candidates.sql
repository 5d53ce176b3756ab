-- Available jobs, best first: priority, then due time, then age; only types in ?5 (a JSON array) if set.
SELECT job_id, concurrency_key FROM jobs INDEXED BY jobs_available
WHERE namespace = ?1 AND queue = ?2 AND state = 'available'
  AND (?5 IS NULL OR job_type IN (SELECT value FROM json_each(?5)))
ORDER BY priority DESC, run_at, job_id
LIMIT ?4
