UPDATE workflows
SET state = $3, output = $4, error = $5, options = $6, job_id = $7, cancel_requested = $8, updated_at = $9,
    finished_at = $10
WHERE namespace = $1 AND workflow_id = $2
