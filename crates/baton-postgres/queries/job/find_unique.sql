-- The newest job holding a unique key in one of the given states, created since $5 if set.
SELECT * FROM jobs
WHERE namespace = $1 AND queue = $2 AND unique_key = $3
  AND state = ANY($4::TEXT[])
  AND ($5::BIGINT IS NULL OR created_at >= $5)
ORDER BY created_at DESC
LIMIT 1
