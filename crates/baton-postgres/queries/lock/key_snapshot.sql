-- One key at a glance: every stored holder (lapsed ones too, with the expiry that decides it) beside the
-- counts of live and lapsed waiters. A key without holders still yields one row, with NULL holder columns.
SELECT w.live_waiters, w.lapsed_waiters,
       h.lock_id, h.key, h.owner, h.fencing_token, h.permits, h.ttl_ms, h.acquired_at, h.expires_at, h.lease_id,
       h.metadata
FROM (
    SELECT COUNT(*) FILTER (WHERE deadline > $3) AS live_waiters,
           COUNT(*) FILTER (WHERE deadline <= $3) AS lapsed_waiters
    FROM lock_waiters
    WHERE namespace = $1 AND key = $2
) AS w
LEFT JOIN (
    SELECT l.lock_id, l.key, l.owner, l.fencing_token, l.permits, l.ttl_ms, l.acquired_at,
           COALESCE(l.expires_at, s.expires_at, 0) AS expires_at, l.lease_id, l.metadata
    FROM locks l
    LEFT JOIN leases s ON s.namespace = l.namespace AND s.lease_id = l.lease_id
    WHERE l.namespace = $1 AND l.key = $2
) AS h ON 1 = 1
ORDER BY h.fencing_token
