-- The log from position ?2 back, through the same filters as read_all_forward.sql.
SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
FROM events
WHERE namespace = ?1 AND global_position <= ?2
  AND (?3 IS NULL OR event_type = ?3)
  AND (?4 IS NULL OR substr(stream, 1, length(?4)) = ?4)
  AND (?5 IS NULL OR (stream_hash >= ?5 AND stream_hash < ?6))
ORDER BY global_position DESC
LIMIT ?7
