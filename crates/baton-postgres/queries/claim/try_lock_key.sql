-- Takes one key's lock only if no other transaction holds it (a claim's `next` skips busy candidates).
SELECT pg_try_advisory_xact_lock($1)
