-- Jobs per queue completed in the last $2 milliseconds, by the database clock unless $3 (a test clock) is set.
SELECT queue, count(*) AS jobs FROM jobs
WHERE namespace = $1 AND state = 'completed' AND finalized_at >= COALESCE($3::BIGINT, baton_now_ms()) - $2
GROUP BY queue
