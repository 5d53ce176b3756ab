SELECT * FROM workflows WHERE namespace = ?1 AND kind = 'workflow' AND workflow_id = ?2
