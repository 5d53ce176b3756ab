-- One statement, so it needs no explicit transaction. $4 is a test clock's instant, or NULL for the
-- database clock.
INSERT INTO leases (namespace, lease_id, ttl_ms, granted_at, expires_at)
SELECT $1, $2, $3, now_ms, now_ms + $3 FROM (SELECT COALESCE($4::BIGINT, baton_now_ms()) AS now_ms) AS clock
RETURNING ttl_ms, granted_at, expires_at
