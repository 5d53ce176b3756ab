-- One key at a glance: every stored holder (lapsed ones too, with the expiry that decides it) beside the
-- counts of live and lapsed waiters. A key without holders still yields one row, with NULL holder columns.
-- $3 is a test clock's instant, or NULL for the database clock, read once here and returned as now_ms so the
-- transaction needs no round trip of its own for it.
WITH clock AS (SELECT COALESCE($3::BIGINT, baton_now_ms()) AS now_ms)
SELECT clock.now_ms, w.live_waiters, w.lapsed_waiters,
       h.lock_id, h.key, h.owner, h.fencing_token, h.permits, h.ttl_ms, h.acquired_at, h.expires_at, h.lease_id,
       h.metadata
FROM clock
CROSS JOIN LATERAL (
    SELECT COUNT(*) FILTER (WHERE deadline > clock.now_ms) AS live_waiters,
           COUNT(*) FILTER (WHERE deadline <= clock.now_ms) AS lapsed_waiters
    FROM lock_waiters
    WHERE namespace = $1 AND key = $2
) AS w
LEFT JOIN (
    SELECT l.lock_id, l.key, l.owner, l.fencing_token, l.permits, l.ttl_ms, l.acquired_at,
           COALESCE(l.expires_at, s.expires_at, 0) AS expires_at, l.lease_id, l.metadata
    FROM locks l
    LEFT JOIN leases s ON s.namespace = l.namespace AND s.lease_id = l.lease_id
    WHERE l.namespace = $1 AND l.key = $2
) AS h ON TRUE
ORDER BY h.fencing_token
