-- Wakes waiters on every node: one notification per payload ($1, in order), sent after the commit they announce.
SELECT pg_notify('baton_changes', payload) FROM unnest($1::TEXT[]) WITH ORDINALITY AS sent (payload, position)
ORDER BY position
