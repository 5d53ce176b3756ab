-- Inserts many jobs in one statement (one array per column).
INSERT INTO jobs (namespace, job_id, queue, job_type, payload, priority, state, attempt, max_attempts, backoff,
                  timeout_ms, run_at, errors, unique_key, concurrency_key, tags, metadata, trace_context,
                  cancel_requested, created_at)
SELECT namespace, job_id, queue, job_type, payload, priority, state, 0, max_attempts, backoff, timeout_ms, run_at,
       '[]', unique_key, concurrency_key, tags, metadata, trace_context, FALSE, created_at
FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::TEXT[], $8::BIGINT[],
            $9::TEXT[], $10::BIGINT[], $11::BIGINT[], $12::TEXT[], $13::TEXT[], $14::TEXT[], $15::TEXT[],
            $16::TEXT[], $17::BIGINT[])
     AS u(namespace, job_id, queue, job_type, payload, priority, state, max_attempts, backoff, timeout_ms, run_at,
          unique_key, concurrency_key, tags, metadata, trace_context, created_at)
