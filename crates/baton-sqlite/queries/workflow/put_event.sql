INSERT INTO workflow_events (namespace, workflow_id, key, value, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (namespace, workflow_id, key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at
