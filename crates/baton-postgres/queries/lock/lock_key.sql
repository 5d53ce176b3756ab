-- Serialises every operation on one key until the transaction ends, and reads the database clock once the
-- lock is held (one round trip for both). Namespaces cannot hold ':', so the joined text is unambiguous; a
-- hash collision only serialises two unrelated keys, never breaks exclusion.
SELECT baton_now_ms() FROM (SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))) AS locked
