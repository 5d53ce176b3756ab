-- One connection at a time, across nodes, looks again and settles a crash (the key is "baton crash marker").
SELECT pg_advisory_xact_lock(hashtextextended('baton crash marker', 0))
