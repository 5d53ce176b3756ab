DELETE FROM job_schedules WHERE namespace = $1 AND name = $2
