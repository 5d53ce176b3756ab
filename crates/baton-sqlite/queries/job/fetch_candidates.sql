-- Available jobs, best first: priority, then due time, then age; only types in ?5 (a JSON array) if set, and
-- none whose concurrency key already runs ?6 jobs if set.
SELECT job_id, concurrency_key FROM jobs INDEXED BY jobs_available
WHERE namespace = ?1 AND queue = ?2 AND state = 'available'
  AND (?5 IS NULL OR job_type IN (SELECT value FROM json_each(?5)))
  AND (?6 IS NULL OR concurrency_key IS NULL OR concurrency_key NOT IN (
        SELECT concurrency_key FROM jobs INDEXED BY jobs_running
        WHERE namespace = ?1 AND queue = ?2 AND state = 'running' AND concurrency_key IS NOT NULL
        GROUP BY concurrency_key HAVING count(*) >= ?6))
ORDER BY priority DESC, run_at, job_id
LIMIT ?4
