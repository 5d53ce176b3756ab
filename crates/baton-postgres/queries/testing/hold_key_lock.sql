-- Takes a key's advisory lock ($1, as advisory_key computes it) until the transaction ends.
SELECT pg_advisory_xact_lock($1)
