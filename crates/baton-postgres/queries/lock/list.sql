-- Live holders in a namespace, by (key, lock_id), with optional owner and key-prefix filters. Keys that start
-- with chr(1) are other primitives' (claims, elections, Baton's own duties) and are not listed as locks.
SELECT l.lock_id, l.key, l.owner, l.fencing_token, l.permits, l.ttl_ms, l.acquired_at,
       COALESCE(l.expires_at, s.expires_at, 0) AS expires_at, l.lease_id, l.metadata
FROM locks l
LEFT JOIN leases s ON s.namespace = l.namespace AND s.lease_id = l.lease_id
WHERE l.namespace = $1
  AND left(l.key, 1) <> chr(1)
  AND COALESCE(l.expires_at, s.expires_at, 0) > COALESCE($2::BIGINT, baton_now_ms())
  AND ($3::TEXT IS NULL OR l.owner = $3)
  AND ($4::TEXT IS NULL OR left(l.key, length($4)) = $4)
  AND ($5::TEXT IS NULL OR (l.key, l.lock_id) > ($5, $6::TEXT))
ORDER BY l.key, l.lock_id
LIMIT $7
