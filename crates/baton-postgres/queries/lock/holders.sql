-- Live holders of one key, oldest grant first. A lease-bound holder lives while its lease does.
SELECT l.lock_id, l.key, l.owner, l.fencing_token, l.permits, l.ttl_ms, l.acquired_at,
       COALESCE(l.expires_at, s.expires_at, 0) AS expires_at, l.lease_id, l.metadata
FROM locks l
LEFT JOIN leases s ON s.namespace = l.namespace AND s.lease_id = l.lease_id
WHERE l.namespace = $1 AND l.key = $2 AND COALESCE(l.expires_at, s.expires_at, 0) > $3
ORDER BY l.fencing_token
