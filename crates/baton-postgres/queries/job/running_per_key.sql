-- Running jobs per concurrency key, for the keys in $3.
SELECT concurrency_key, count(*) AS running FROM jobs
WHERE namespace = $1 AND queue = $2 AND state = 'running' AND concurrency_key = ANY($3::TEXT[])
GROUP BY concurrency_key
