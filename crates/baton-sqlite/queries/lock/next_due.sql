-- The earliest instant at which a holder, lease or waiter lapses. `IS NOT NULL` lets the holders' minimum come
-- from their partial expiry index: without it, every expiry pass read the whole locks table.
SELECT MIN(due_at) FROM (
    SELECT MIN(expires_at) AS due_at FROM locks WHERE expires_at IS NOT NULL
    UNION ALL SELECT MIN(expires_at) FROM leases
    UNION ALL SELECT MIN(deadline) FROM lock_waiters
) AS due
