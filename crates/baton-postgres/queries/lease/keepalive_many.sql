-- Extends each live lease named by the pairs ($1 namespaces, $2 lease ids, sorted and distinct) by its own TTL;
-- a lapsed lease stays dead, and is missing from the answer. $3 is a test clock's instant, or NULL for the
-- database clock.
-- The commit does not wait for the WAL flush (`set_config` with is_local, read when the implicit transaction
-- commits), as etcd serves keepalives from its leader's memory: a crash may take the last ones back, and the
-- connections opened after it give every lease its full TTL again first (crate::crash_marker).
-- Each lease is looked up by its key and locked, in the pairs' order (so concurrent statements never deadlock),
-- then updated by its ctid: a join on the key could take the generic plan made while the table was empty, a
-- sequential scan of every lease. The lock makes the ctid the row's newest version.
UPDATE leases AS l SET expires_at = COALESCE($3::BIGINT, baton_now_ms()) + l.ttl_ms
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed,
     unnest($1::TEXT[], $2::TEXT[]) AS named (namespace, lease_id)
     CROSS JOIN LATERAL (
         SELECT ctid AS row_id FROM leases
         WHERE namespace = named.namespace AND lease_id = named.lease_id
           AND expires_at > COALESCE($3::BIGINT, baton_now_ms())
         LIMIT 1 FOR UPDATE
     ) AS held
WHERE l.ctid = held.row_id
RETURNING l.namespace, l.lease_id, l.ttl_ms, l.granted_at, l.expires_at
