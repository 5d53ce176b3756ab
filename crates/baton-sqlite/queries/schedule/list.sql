SELECT * FROM job_schedules WHERE namespace = ?1 ORDER BY name
