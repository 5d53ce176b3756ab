-- Running jobs whose lease or timeout lapsed at ?1.
SELECT * FROM jobs
WHERE state = 'running'
  AND (lease_expires_at <= ?1 OR (timeout_ms IS NOT NULL AND attempted_at + timeout_ms <= ?1))
ORDER BY lease_expires_at
LIMIT ?2
