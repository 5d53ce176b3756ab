INSERT INTO lock_waiters (namespace, key, waiter_id, seq, owner, ttl_ms, permits, lease_id, metadata, deadline, enqueued_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
