SELECT ttl_ms, granted_at, expires_at FROM leases
WHERE namespace = $1 AND lease_id = $2 AND expires_at > COALESCE($3::BIGINT, baton_now_ms())
