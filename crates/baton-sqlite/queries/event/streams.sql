-- The rows of the named streams (?2, a JSON array of names).
SELECT namespace, stream, stream_hash, last_version, truncate_before, max_count, max_age_ms, metadata, created_at,
       last_appended_at, deleted_at
FROM event_streams
WHERE namespace = ?1 AND stream IN (SELECT value FROM json_each(?2))
