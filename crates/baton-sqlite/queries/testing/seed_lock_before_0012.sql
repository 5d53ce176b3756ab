-- Tests only: a lock and a fencing token in a database migrated up to version 11.
UPDATE baton_counters SET value = 41 WHERE name = 'fencing_token';
INSERT INTO locks (namespace, key, lock_id, owner, fencing_token, permits, ttl_ms, acquired_at, expires_at,
                   lease_id, metadata)
VALUES ('default', 'k', 'l-1', 'o', 41, 1, 5000, 1000, 6000, NULL, '{"a":1}');
