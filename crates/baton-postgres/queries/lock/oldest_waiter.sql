-- The live waiter queued first on a key.
SELECT waiter_id, owner, ttl_ms, permits, lease_id, metadata, deadline
FROM lock_waiters
WHERE namespace = $1 AND key = $2 AND deadline > $3
ORDER BY seq
LIMIT 1
