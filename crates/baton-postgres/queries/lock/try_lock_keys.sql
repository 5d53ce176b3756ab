-- Takes, without waiting, the locks of the keys whose 64-bit lock ids are $1 (see `advisory_key`), and answers
-- with those it took: a key another transaction works on is left to a later pass, and a pass that never waits
-- cannot deadlock with another node's.
SELECT key_lock FROM unnest($1::BIGINT[]) AS key_lock WHERE pg_try_advisory_xact_lock(key_lock)
