-- Starts an attempt: ?3 lease token, ?4 lease length, ?5 now, ?6 worker.
UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = ?3, lease_ms = ?4,
                lease_expires_at = ?5 + ?4, worker_id = ?6, heartbeat_at = ?5, attempted_at = ?5
WHERE namespace = ?1 AND job_id = ?2
RETURNING *
