-- Starts an attempt of each job in $2, each with a fresh lease token: $3 lease length, $4 now, $5 worker.
-- The jobs are held by this transaction (its candidates read locked them), so each row is found by its key and
-- updated in place by its ctid: a generic plan made while the table was empty would otherwise scan every job
-- of the namespace.
UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = nextval('baton_job_lease_token'),
                lease_ms = $3, lease_expires_at = $4 + $3, worker_id = $5, heartbeat_at = $4, attempted_at = $4
FROM unnest($2::TEXT[]) AS wanted(job_id)
CROSS JOIN LATERAL (
    SELECT ctid AS row_id FROM jobs WHERE namespace = $1 AND job_id = wanted.job_id LIMIT 1
) AS held
WHERE jobs.ctid = held.row_id
RETURNING jobs.*
