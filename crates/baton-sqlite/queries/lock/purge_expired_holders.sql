-- Deletes the key's holders whose own TTL or lease lapsed, and returns them.
DELETE FROM locks
WHERE namespace = ?1 AND key = ?2
  AND ((expires_at IS NOT NULL AND expires_at <= ?3)
    OR (lease_id IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM leases s
          WHERE s.namespace = locks.namespace AND s.lease_id = locks.lease_id AND s.expires_at > ?3)))
RETURNING lock_id
