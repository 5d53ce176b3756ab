INSERT INTO job_queues (namespace, queue, paused, global_concurrency, rate_limit, rate_period_ms, per_key_concurrency)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (namespace, queue) DO UPDATE SET
    paused = excluded.paused,
    global_concurrency = excluded.global_concurrency,
    rate_limit = excluded.rate_limit,
    rate_period_ms = excluded.rate_period_ms,
    per_key_concurrency = excluded.per_key_concurrency
