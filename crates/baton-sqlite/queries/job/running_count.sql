SELECT count(*) FROM jobs WHERE namespace = ?1 AND queue = ?2 AND state = 'running'
