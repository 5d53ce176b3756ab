SELECT * FROM job_types WHERE namespace = ?1 AND job_type = ?2
