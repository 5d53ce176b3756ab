SELECT min(run_at) FROM jobs
WHERE namespace = ?1 AND queue = ?2 AND state IN ('scheduled', 'available', 'retryable')
