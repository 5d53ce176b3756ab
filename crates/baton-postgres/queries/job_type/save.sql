INSERT INTO job_types (namespace, job_type, executor, config, queue, timeout_ms, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (namespace, job_type) DO UPDATE SET
    executor = excluded.executor, config = excluded.config, queue = excluded.queue,
    timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at
