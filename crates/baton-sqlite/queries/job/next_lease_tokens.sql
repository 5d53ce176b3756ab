-- Reserves ?1 lease tokens; the reserved ones end at the returned value.
UPDATE baton_counters SET value = value + ?1 WHERE name = 'job_lease_token' RETURNING value
