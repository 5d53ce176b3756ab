INSERT INTO job_queues (namespace, queue, paused, global_concurrency, rate_limit, rate_period_ms, per_key_concurrency,
                        rate_window_start, rate_window_taken)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (namespace, queue) DO UPDATE SET
    paused = excluded.paused,
    global_concurrency = excluded.global_concurrency,
    rate_limit = excluded.rate_limit,
    rate_period_ms = excluded.rate_period_ms,
    per_key_concurrency = excluded.per_key_concurrency,
    rate_window_start = excluded.rate_window_start,
    rate_window_taken = excluded.rate_window_taken
