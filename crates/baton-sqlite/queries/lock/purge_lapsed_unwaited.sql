-- Deletes up to ?2 holders whose own TTL lapsed (?1: now) on keys nobody waits for, the longest lapsed first.
-- The writer runs one transaction at a time, so the keys need no lock of their own.
DELETE FROM locks
WHERE (namespace, key, lock_id) IN (
    SELECT l.namespace, l.key, l.lock_id FROM locks AS l
    WHERE l.expires_at IS NOT NULL AND l.expires_at <= ?1
      AND NOT EXISTS (SELECT 1 FROM lock_waiters AS w WHERE w.namespace = l.namespace AND w.key = l.key)
    ORDER BY l.expires_at
    LIMIT ?2)
