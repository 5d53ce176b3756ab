-- Deletes the key's holders whose own TTL or lease lapsed ($3 is now), and returns them.
-- The lapsed leases the key's holders hang on are locked first, and one that another transaction holds (a
-- keepalive committing right now, whose clock still had the lease live) is left alone, its holders kept until a
-- later pass: a keepalive must not commit between this statement judging its lease lapsed and the key being
-- granted to a waiter. Live leases are not locked, so a keepalive never waits for a purge.
WITH lapsed AS (
    SELECT s.lease_id FROM leases s
    WHERE s.namespace = $1 AND s.expires_at <= $3
      AND s.lease_id IN (SELECT l.lease_id FROM locks l WHERE l.namespace = $1 AND l.key = $2 AND l.lease_id IS NOT NULL)
),
locked AS (
    SELECT s.lease_id, s.expires_at FROM leases s
    WHERE s.namespace = $1 AND s.lease_id IN (SELECT lease_id FROM lapsed)
    ORDER BY s.lease_id
    FOR SHARE SKIP LOCKED
)
DELETE FROM locks
WHERE namespace = $1 AND key = $2
  AND ((expires_at IS NOT NULL AND expires_at <= $3)
    OR (lease_id IS NOT NULL
        AND lease_id NOT IN (SELECT a.lease_id FROM lapsed a WHERE a.lease_id NOT IN (SELECT lease_id FROM locked))
        AND NOT EXISTS (SELECT 1 FROM leases s
                        WHERE s.namespace = locks.namespace AND s.lease_id = locks.lease_id AND s.expires_at > $3)
        AND NOT EXISTS (SELECT 1 FROM locked WHERE locked.lease_id = locks.lease_id AND locked.expires_at > $3)))
RETURNING lock_id
