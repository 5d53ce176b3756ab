-- The earliest lease expiry or timeout among running jobs: the first entry of each index. min() of two values
-- is NULL if either is, hence the coalesce.
SELECT min(coalesce(lease, deadline), coalesce(deadline, lease)) FROM (
    SELECT (SELECT lease_expires_at FROM jobs
            WHERE state = 'running' AND lease_expires_at IS NOT NULL
            ORDER BY lease_expires_at LIMIT 1) AS lease,
           (SELECT attempted_at + timeout_ms FROM jobs
            WHERE state = 'running' AND timeout_ms IS NOT NULL AND attempted_at IS NOT NULL
            ORDER BY attempted_at + timeout_ms LIMIT 1) AS deadline)
