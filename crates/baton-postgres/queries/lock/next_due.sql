-- The earliest instant at which a holder, lease or waiter lapses.
SELECT MIN(due_at) FROM (
    SELECT MIN(expires_at) AS due_at FROM locks
    UNION ALL SELECT MIN(expires_at) FROM leases
    UNION ALL SELECT MIN(deadline) FROM lock_waiters
) AS due
