SELECT expires_at FROM leases WHERE lease_id = ?1
