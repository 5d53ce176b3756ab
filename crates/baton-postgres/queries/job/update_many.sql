-- Writes back every field a transition may change, for many jobs in one statement (one array per column).
-- The jobs are held by this transaction (read for update before), so each row is found by its key and then
-- updated in place by its ctid: a join on the key could take the generic plan made while the table was empty,
-- a sequential scan of every job.
UPDATE jobs SET state = u.state, attempt = u.attempt, max_attempts = u.max_attempts, run_at = u.run_at,
                lease_token = u.lease_token, lease_ms = u.lease_ms, lease_expires_at = u.lease_expires_at,
                worker_id = u.worker_id, heartbeat_at = u.heartbeat_at, progress = u.progress, result = u.result,
                errors = u.errors, cancel_requested = u.cancel_requested, attempted_at = u.attempted_at,
                finalized_at = u.finalized_at
FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[],
            $8::BIGINT[], $9::BIGINT[], $10::TEXT[], $11::BIGINT[], $12::TEXT[], $13::TEXT[], $14::TEXT[],
            $15::BOOLEAN[], $16::BIGINT[], $17::BIGINT[])
     AS u(namespace, job_id, state, attempt, max_attempts, run_at, lease_token, lease_ms, lease_expires_at,
          worker_id, heartbeat_at, progress, result, errors, cancel_requested, attempted_at, finalized_at)
CROSS JOIN LATERAL (
    SELECT ctid AS row_id FROM jobs WHERE namespace = u.namespace AND job_id = u.job_id LIMIT 1
) AS held
WHERE jobs.ctid = held.row_id
