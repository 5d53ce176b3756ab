-- The queue's settings (NULL columns when none were set), with the database clock read in the same trip.
SELECT baton_now_ms() AS now_ms, $2::TEXT AS queue, q.paused, q.global_concurrency, q.rate_limit,
       q.rate_period_ms, q.per_key_concurrency, q.rate_window_start, q.rate_window_taken
FROM (SELECT 1) AS one
LEFT JOIN job_queues q ON q.namespace = $1 AND q.queue = $2
