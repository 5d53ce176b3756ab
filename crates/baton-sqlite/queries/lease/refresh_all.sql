-- At start, every stored lease gets at least its full TTL from now (?1), as etcd's leader gives its leases on
-- taking office: keepalives commit without waiting for the disk, so a power cut may take the last ones back.
UPDATE leases SET expires_at = max(expires_at, ?1 + ttl_ms)
