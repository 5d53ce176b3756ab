-- Serialises operations on one consumer group until the transaction ends, and reads the database clock once
-- the lock is held.
SELECT baton_now_ms() FROM (SELECT pg_advisory_xact_lock($1)) AS locked
