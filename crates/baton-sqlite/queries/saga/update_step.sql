UPDATE workflow_steps
SET state = ?5, job_id = ?6, attempts = ?7, output = ?8, errors = ?9, started_at = ?10, finished_at = ?11
WHERE namespace = ?1 AND workflow_id = ?2 AND step_index = ?3 AND phase = ?4
