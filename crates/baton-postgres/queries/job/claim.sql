-- Starts an attempt of each job in $2, each with a fresh lease token: $3 lease length, $4 now, $5 worker.
UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = nextval('baton_job_lease_token'),
                lease_ms = $3, lease_expires_at = $4 + $3, worker_id = $5, heartbeat_at = $4, attempted_at = $4
WHERE namespace = $1 AND job_id = ANY($2::TEXT[])
RETURNING *
