SELECT * FROM workflows WHERE namespace = $1 AND kind = 'workflow' AND job_id = $2
