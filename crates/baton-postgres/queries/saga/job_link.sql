SELECT * FROM workflow_step_jobs WHERE namespace = $1 AND job_id = $2
