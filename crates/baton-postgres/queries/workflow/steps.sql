SELECT * FROM workflow_steps WHERE namespace = $1 AND workflow_id = $2 AND phase = 'action' ORDER BY step_index
