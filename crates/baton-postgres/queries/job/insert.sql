INSERT INTO jobs (namespace, job_id, queue, job_type, payload, priority, state, attempt, max_attempts, backoff,
                  timeout_ms, run_at, errors, unique_key, concurrency_key, tags, metadata, trace_context,
                  cancel_requested, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11, '[]', $12, $13, $14, $15, $16, FALSE, $17)
