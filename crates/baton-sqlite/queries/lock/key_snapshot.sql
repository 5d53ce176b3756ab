-- One key at a glance: every stored holder (lapsed ones too, with the expiry that decides it) beside the
-- counts of live and lapsed waiters. A key without holders still yields one row, with NULL holder columns.
-- Written so that SQLite builds no temporary table (the counts are computed once, the named key is a
-- co-routine) and sorts nothing: the caller puts the holders in fencing-token order.
SELECT (SELECT COUNT(*) FROM lock_waiters WHERE namespace = ?1 AND key = ?2 AND deadline > ?3) AS live_waiters,
       (SELECT COUNT(*) FROM lock_waiters WHERE namespace = ?1 AND key = ?2 AND deadline <= ?3) AS lapsed_waiters,
       l.lock_id, l.key, l.owner, l.fencing_token, l.permits, l.ttl_ms, l.acquired_at,
       COALESCE(l.expires_at, s.expires_at, 0) AS expires_at, l.lease_id, l.metadata
FROM (SELECT ?1 AS namespace, ?2 AS key) AS named
LEFT JOIN locks AS l ON l.namespace = named.namespace AND l.key = named.key
LEFT JOIN leases AS s ON s.namespace = l.namespace AND s.lease_id = l.lease_id
