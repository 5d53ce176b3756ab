-- Advances the counter ?1 (fencing tokens, waiter order). Read back with counter.sql: `RETURNING` would gather
-- the row in a temporary b-tree on every run.
UPDATE baton_counters SET value = value + 1 WHERE name = ?1
