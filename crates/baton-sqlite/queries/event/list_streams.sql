-- Streams that exist (not deleted, not reserved), by name, after ?3, with an optional name prefix ?2.
SELECT namespace, stream, stream_hash, last_version, truncate_before, max_count, max_age_ms, metadata, created_at,
       last_appended_at, deleted_at
FROM event_streams
WHERE namespace = ?1 AND deleted_at IS NULL AND last_version >= 0 AND substr(stream, 1, 1) <> '$'
  AND (?2 IS NULL OR substr(stream, 1, length(?2)) = ?2)
  AND (?3 IS NULL OR stream > ?3)
ORDER BY stream
LIMIT ?4
