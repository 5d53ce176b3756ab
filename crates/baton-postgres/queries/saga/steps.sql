SELECT * FROM workflow_steps WHERE namespace = $1 AND workflow_id = $2 ORDER BY step_index, phase
