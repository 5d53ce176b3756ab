-- Serialises enqueues of one unique key, or counting fetches from one queue, until the transaction ends.
SELECT pg_advisory_xact_lock($1)
