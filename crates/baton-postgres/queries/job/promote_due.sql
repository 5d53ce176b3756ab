-- Makes scheduled and retryable jobs due at $3 available (at most $4 at a time); rows another fetch is
-- promoting are skipped.
UPDATE jobs SET state = 'available'
WHERE (namespace, job_id) IN (
    SELECT namespace, job_id FROM jobs
    WHERE namespace = $1 AND queue = $2 AND state IN ('scheduled', 'retryable') AND run_at <= $3
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
