SELECT queue, count(*) AS jobs FROM jobs
WHERE namespace = ?1 AND state = 'completed' AND finalized_at >= ?2
GROUP BY queue
