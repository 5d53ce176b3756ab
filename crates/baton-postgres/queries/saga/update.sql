UPDATE workflows
SET state = $3, current_step = $4, failed_step = $5, error = $6, cancel_requested = $7, updated_at = $8,
    finished_at = $9
WHERE namespace = $1 AND workflow_id = $2
