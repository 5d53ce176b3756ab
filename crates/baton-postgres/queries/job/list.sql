-- Jobs in id (creation) order after $6, with optional queue, state, type and tag filters.
SELECT * FROM jobs
WHERE namespace = $1
  AND ($2::TEXT IS NULL OR queue = $2)
  AND ($3::TEXT IS NULL OR state = $3)
  AND ($4::TEXT IS NULL OR job_type = $4)
  AND ($5::TEXT IS NULL OR jsonb_exists(tags::JSONB, $5))
  AND ($6::TEXT IS NULL OR job_id > $6)
ORDER BY job_id
LIMIT $7
