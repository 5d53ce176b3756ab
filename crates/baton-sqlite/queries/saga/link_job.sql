INSERT INTO workflow_step_jobs (namespace, job_id, workflow_id, step_index, phase) VALUES (?1, ?2, ?3, ?4, ?5)
