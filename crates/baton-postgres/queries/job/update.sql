-- Writes back every field a transition may change.
UPDATE jobs SET state = $3, attempt = $4, max_attempts = $5, run_at = $6, lease_token = $7, lease_ms = $8,
                lease_expires_at = $9, worker_id = $10, heartbeat_at = $11, progress = $12, result = $13,
                errors = $14, cancel_requested = $15, attempted_at = $16, finalized_at = $17
WHERE namespace = $1 AND job_id = $2
