SELECT * FROM workflow_steps WHERE namespace = ?1 AND workflow_id = ?2 AND step_index = ?3 AND phase = 'action'
