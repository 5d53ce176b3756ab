-- The keys of up to $2 holders whose own TTL lapsed ($1: now) and that nobody waits for, the longest lapsed
-- first: what an expiry pass purges together, once it holds their keys' locks.
SELECT DISTINCT lapsed.namespace, lapsed.key FROM (
    SELECT l.namespace, l.key FROM locks AS l
    WHERE l.expires_at IS NOT NULL AND l.expires_at <= $1
      AND NOT EXISTS (SELECT 1 FROM lock_waiters AS w WHERE w.namespace = l.namespace AND w.key = l.key)
    ORDER BY l.expires_at
    LIMIT $2) AS lapsed
