-- Keys with a lapsed holder (own TTL or lease) or a lapsed waiter, in a stable order.
SELECT namespace, key FROM (
    SELECT namespace, key FROM locks WHERE expires_at IS NOT NULL AND expires_at <= ?1
    UNION
    SELECT l.namespace, l.key FROM locks l
    WHERE l.lease_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM leases s WHERE s.namespace = l.namespace AND s.lease_id = l.lease_id AND s.expires_at > ?1)
    UNION
    SELECT namespace, key FROM lock_waiters WHERE deadline <= ?1
) AS due
ORDER BY namespace, key
LIMIT ?2
