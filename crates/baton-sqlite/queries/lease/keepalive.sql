-- Extends a live lease by its own TTL; a lapsed lease stays dead. Read back with get.sql: `RETURNING` would
-- gather the row in a temporary b-tree on every keepalive.
UPDATE leases SET expires_at = ?3 + ttl_ms
WHERE namespace = ?1 AND lease_id = ?2 AND expires_at > ?3
