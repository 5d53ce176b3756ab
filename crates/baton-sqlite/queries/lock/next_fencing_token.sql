UPDATE baton_counters SET value = value + 1 WHERE name = 'fencing_token' RETURNING value
