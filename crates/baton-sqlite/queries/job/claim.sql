-- Starts an attempt of each job in ?2 (a JSON array of ids), the one at index n with lease token ?3 + n:
-- ?4 lease length, ?5 now, ?6 worker.
UPDATE jobs SET state = 'running', attempt = attempt + 1,
                lease_token = ?3 + (SELECT key FROM json_each(?2) WHERE value = jobs.job_id),
                lease_ms = ?4, lease_expires_at = ?5 + ?4, worker_id = ?6, heartbeat_at = ?5, attempted_at = ?5
WHERE namespace = ?1 AND job_id IN (SELECT value FROM json_each(?2))
RETURNING *
