-- How many of a stream's events a read may return: versions $3 and up, not older than max_age_ms $4 (clock: $5,
-- else the database's).
SELECT count(*) FROM events
WHERE namespace = $1 AND stream = $2 AND version >= $3
  AND ($4::BIGINT IS NULL OR recorded_at >= COALESCE($5::BIGINT, baton_now_ms()) - $4)
