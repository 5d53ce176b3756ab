-- Running jobs per concurrency key, for the keys in ?3 (a JSON array).
SELECT concurrency_key, count(*) AS running FROM jobs INDEXED BY jobs_running
WHERE namespace = ?1 AND queue = ?2 AND state = 'running'
  AND concurrency_key IN (SELECT value FROM json_each(?3))
GROUP BY concurrency_key
