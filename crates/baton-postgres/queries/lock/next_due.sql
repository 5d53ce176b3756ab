-- The earliest instant at which a holder, lease or waiter lapses. The holders' minimum comes from their partial
-- expiry index (PostgreSQL adds the `IS NOT NULL` itself; SQLite's copy of this statement needs it written).
SELECT MIN(due_at) FROM (
    SELECT MIN(expires_at) AS due_at FROM locks WHERE expires_at IS NOT NULL
    UNION ALL SELECT MIN(expires_at) FROM leases
    UNION ALL SELECT MIN(deadline) FROM lock_waiters
) AS due
