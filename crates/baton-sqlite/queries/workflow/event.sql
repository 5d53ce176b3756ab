SELECT value FROM workflow_events WHERE namespace = ?1 AND workflow_id = ?2 AND key = ?3
