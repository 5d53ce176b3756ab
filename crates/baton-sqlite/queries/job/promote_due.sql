-- Makes scheduled and retryable jobs due at ?3 available (at most ?4 at a time).
UPDATE jobs SET state = 'available'
WHERE rowid IN (
    SELECT rowid FROM jobs INDEXED BY jobs_due
    WHERE namespace = ?1 AND queue = ?2 AND state IN ('scheduled', 'retryable') AND run_at <= ?3
    LIMIT ?4
)
