-- Serialises every operation on one key until the transaction ends. Namespaces cannot hold ':', so the
-- joined text is unambiguous; a hash collision only serialises two unrelated keys, never breaks exclusion.
SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))
