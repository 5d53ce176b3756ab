-- Writes a keepalive answered from memory (`live_leases`): the lease's newest expiry, never an earlier one.
UPDATE leases SET expires_at = max(expires_at, ?3) WHERE namespace = ?1 AND lease_id = ?2
