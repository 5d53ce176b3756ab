-- The earliest lease expiry or timeout among running jobs.
SELECT min(min(lease_expires_at, COALESCE(attempted_at + timeout_ms, lease_expires_at))) FROM jobs
WHERE state = 'running'
