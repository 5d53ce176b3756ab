-- When the queue's next scheduled or retryable job is due.
SELECT min(run_at) FROM jobs INDEXED BY jobs_due
WHERE namespace = ?1 AND queue = ?2 AND state IN ('scheduled', 'retryable')
