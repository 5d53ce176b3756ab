-- Renews a live TTL-bound holder; affects no row if it lapsed meanwhile.
UPDATE locks SET ttl_ms = ?4, expires_at = ?5
WHERE namespace = ?1 AND key = ?2 AND lock_id = ?3 AND lease_id IS NULL AND expires_at > ?6
