SELECT count(*) FROM jobs INDEXED BY jobs_running WHERE namespace = ?1 AND queue = ?2 AND state = 'running'
