-- The rows of the named streams, each with the database clock; one row with only the clock when none exists.
SELECT c.now_ms, s.namespace, s.stream, s.stream_hash, s.last_version, s.truncate_before, s.max_count,
       s.max_age_ms, s.metadata, s.created_at, s.last_appended_at, s.deleted_at
FROM (SELECT baton_now_ms() AS now_ms) c
LEFT JOIN event_streams s ON s.namespace = $1 AND s.stream = ANY($2::TEXT[])
