-- Extends a live lease by its own TTL; a lapsed lease stays dead. One statement, so it needs no explicit
-- transaction. $3 is a test clock's instant, or NULL for the database clock.
UPDATE leases SET expires_at = COALESCE($3::BIGINT, baton_now_ms()) + ttl_ms
WHERE namespace = $1 AND lease_id = $2 AND expires_at > COALESCE($3::BIGINT, baton_now_ms())
RETURNING ttl_ms, granted_at, expires_at
