SELECT queue, paused, global_concurrency, rate_limit, rate_period_ms, per_key_concurrency,
       rate_window_start, rate_window_taken
FROM job_queues WHERE namespace = ?1 AND queue = ?2
