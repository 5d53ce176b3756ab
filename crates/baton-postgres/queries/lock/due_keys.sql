-- Keys with a lapsed holder (own TTL or lease) or a lapsed waiter, the longest lapsed first, in a stable order.
-- Each kind is read through its own index up to $2 rows before the union, so that a pass costs the same however
-- much is due: a union of everything due, then sorted, read all of it on every pass.
SELECT namespace, key FROM (
    (SELECT namespace, key FROM locks WHERE expires_at IS NOT NULL AND expires_at <= $1
     ORDER BY expires_at LIMIT $2)
    UNION
    (SELECT l.namespace, l.key FROM locks l
     WHERE l.lease_id IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM leases s WHERE s.namespace = l.namespace AND s.lease_id = l.lease_id AND s.expires_at > $1)
     LIMIT $2)
    UNION
    (SELECT namespace, key FROM lock_waiters WHERE deadline <= $1 ORDER BY deadline LIMIT $2)
) AS due
ORDER BY namespace, key
LIMIT $2
