-- Serialises appends to one namespace's log until the transaction ends (positions then commit in the order
-- they are drawn), and reads the database clock once the lock is held.
SELECT baton_now_ms() FROM (SELECT pg_advisory_xact_lock($1)) AS locked
