-- Wakes waiters on every node; delivered only when the transaction commits.
SELECT pg_notify('baton_changes', $1)
