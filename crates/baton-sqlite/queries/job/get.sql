SELECT * FROM jobs WHERE namespace = ?1 AND job_id = ?2
