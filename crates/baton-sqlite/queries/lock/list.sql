-- Live holders in a namespace, by (key, lock_id), with optional owner and key-prefix filters. Keys that start
-- with char(1) are other primitives' (claims, elections, Baton's own duties) and are not listed as locks.
SELECT l.lock_id, l.key, l.owner, l.fencing_token, l.permits, l.ttl_ms, l.acquired_at,
       COALESCE(l.expires_at, s.expires_at, 0) AS expires_at, l.lease_id, l.metadata
FROM locks l
LEFT JOIN leases s ON s.namespace = l.namespace AND s.lease_id = l.lease_id
WHERE l.namespace = ?1
  AND substr(l.key, 1, 1) <> char(1)
  AND COALESCE(l.expires_at, s.expires_at, 0) > ?2
  AND (?3 IS NULL OR l.owner = ?3)
  AND (?4 IS NULL OR substr(l.key, 1, length(?4)) = ?4)
  AND (?5 IS NULL OR (l.key, l.lock_id) > (?5, ?6))
ORDER BY l.key, l.lock_id
LIMIT ?7
