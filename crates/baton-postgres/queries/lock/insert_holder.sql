-- Inserts a holder with the next fencing token from the shared sequence.
INSERT INTO locks (namespace, key, lock_id, owner, fencing_token, permits, ttl_ms, acquired_at, expires_at, lease_id, metadata)
VALUES ($1, $2, $3, $4, nextval('baton_fencing_token'), $5, $6, $7, $8, $9, $10)
RETURNING fencing_token
