-- Deletes the holders of the named keys ($2 namespaces, $3 keys, locked by this transaction) whose own TTL lapsed
-- ($1: now) and that nobody waits for. Run after the locks were taken, so it sees any waiter queued before.
DELETE FROM locks AS l
USING unnest($2::TEXT[], $3::TEXT[]) AS named (namespace, key)
WHERE l.namespace = named.namespace AND l.key = named.key
  AND l.expires_at IS NOT NULL AND l.expires_at <= $1
  AND NOT EXISTS (SELECT 1 FROM lock_waiters AS w WHERE w.namespace = l.namespace AND w.key = l.key)
