-- Extends a live lease by its own TTL; a lapsed lease stays dead.
UPDATE leases SET expires_at = ?3 + ttl_ms
WHERE namespace = ?1 AND lease_id = ?2 AND expires_at > ?3
RETURNING ttl_ms, granted_at, expires_at
