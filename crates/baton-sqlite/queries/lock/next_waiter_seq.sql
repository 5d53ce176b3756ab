UPDATE baton_counters SET value = value + 1 WHERE name = 'waiter_seq' RETURNING value
