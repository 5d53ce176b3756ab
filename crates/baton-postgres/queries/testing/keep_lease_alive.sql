-- What a keepalive does to a lease ($1 namespace, $2 lease id) before it commits: moves its expiry to $3.
UPDATE leases SET expires_at = $3 WHERE namespace = $1 AND lease_id = $2
