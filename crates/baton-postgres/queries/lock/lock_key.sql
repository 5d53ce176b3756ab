-- Serialises every operation on one key until the transaction ends, and reads the database clock once the
-- lock is held. $1 is the key's 64-bit lock id (see `advisory_key`); a collision only serialises two unrelated
-- keys, never breaks exclusion.
SELECT baton_now_ms() FROM (SELECT pg_advisory_xact_lock($1)) AS locked
