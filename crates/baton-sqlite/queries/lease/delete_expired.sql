DELETE FROM leases WHERE expires_at <= ?1
