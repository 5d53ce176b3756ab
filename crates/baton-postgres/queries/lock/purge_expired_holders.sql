-- Deletes the key's holders whose own TTL or lease lapsed ($3 is now).
-- The leases the key's holders hang on are locked first, and one that another transaction holds (a keepalive
-- committing right now) is left alone, its holders kept until a later pass: a keepalive must not commit between
-- this statement judging its lease lapsed and the key being granted to a waiter.
WITH bound AS (
    SELECT s.lease_id FROM leases s
    WHERE s.namespace = $1
      AND s.lease_id IN (SELECT l.lease_id FROM locks l WHERE l.namespace = $1 AND l.key = $2 AND l.lease_id IS NOT NULL)
),
locked AS (
    SELECT s.lease_id, s.expires_at FROM leases s
    WHERE s.namespace = $1 AND s.lease_id IN (SELECT lease_id FROM bound)
    ORDER BY s.lease_id
    FOR SHARE SKIP LOCKED
)
DELETE FROM locks
WHERE namespace = $1 AND key = $2
  AND ((expires_at IS NOT NULL AND expires_at <= $3)
    OR (lease_id IS NOT NULL
        AND lease_id NOT IN (SELECT b.lease_id FROM bound b WHERE b.lease_id NOT IN (SELECT lease_id FROM locked))
        AND NOT EXISTS (SELECT 1 FROM locked WHERE locked.lease_id = locks.lease_id AND locked.expires_at > $3)))
