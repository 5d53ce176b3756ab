SELECT * FROM workflows WHERE namespace = $1 AND kind = 'saga' AND workflow_id = $2
