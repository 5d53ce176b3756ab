-- Extends a live lease by its own TTL; a lapsed lease stays dead. One statement, so it needs no explicit
-- transaction. $3 is a test clock's instant, or NULL for the database clock.
-- The commit does not wait for the WAL flush (`set_config` with is_local, read when the implicit transaction
-- commits), as etcd serves keepalives from its leader's memory: a crash may take the last ones back, and the
-- connections opened after it give every lease its full TTL again first (crate::crash_marker).
UPDATE leases SET expires_at = COALESCE($3::BIGINT, baton_now_ms()) + ttl_ms
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
WHERE namespace = $1 AND lease_id = $2 AND expires_at > COALESCE($3::BIGINT, baton_now_ms())
RETURNING ttl_ms, granted_at, expires_at
