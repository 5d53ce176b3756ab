INSERT INTO leases (namespace, lease_id, ttl_ms, granted_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?4 + ?3)
RETURNING ttl_ms, granted_at, expires_at
