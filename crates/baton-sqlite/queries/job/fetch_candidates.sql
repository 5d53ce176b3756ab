-- Due waiting jobs, best first: priority, then due time, then age.
SELECT job_id, concurrency_key FROM jobs
WHERE namespace = ?1 AND queue = ?2 AND state IN ('scheduled', 'available', 'retryable') AND run_at <= ?3
ORDER BY priority DESC, run_at, job_id
LIMIT ?4
