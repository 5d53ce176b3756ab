-- A fetch's first look at its queue, in one round trip: the queue's settings with the database clock (as
-- queue_settings.sql), after making up to $4 of its scheduled and retryable jobs that are due available unless
-- the queue is paused, and when the next job still waiting for its time is due (next_run_at.sql, as the look
-- leaves the queue). $3 is the transaction's instant when it has one already. Rows another fetch is promoting
-- are skipped.
WITH clock AS (SELECT COALESCE($3::BIGINT, baton_now_ms()) AS now_ms),
promoted AS (
    UPDATE jobs SET state = 'available'
    WHERE (namespace, job_id) IN (
        SELECT namespace, job_id FROM jobs
        WHERE namespace = $1 AND queue = $2 AND state IN ('scheduled', 'retryable')
          AND run_at <= (SELECT now_ms FROM clock)
        LIMIT $4
        FOR UPDATE SKIP LOCKED
    )
    AND NOT EXISTS (SELECT 1 FROM job_queues WHERE namespace = $1 AND queue = $2 AND paused)
    RETURNING job_id
)
SELECT clock.now_ms, $2::TEXT AS queue, q.paused, q.global_concurrency, q.rate_limit, q.rate_period_ms,
       q.per_key_concurrency, q.rate_window_start, q.rate_window_taken,
       (SELECT waiting.run_at FROM jobs AS waiting
        WHERE waiting.namespace = $1 AND waiting.queue = $2 AND waiting.state IN ('scheduled', 'retryable')
          AND waiting.job_id NOT IN (SELECT job_id FROM promoted)
        ORDER BY waiting.run_at LIMIT 1) AS next_run_at
FROM clock
LEFT JOIN job_queues q ON q.namespace = $1 AND q.queue = $2
