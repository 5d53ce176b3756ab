-- The events of one stream with these ids (?3, a JSON array).
SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
FROM events
WHERE namespace = ?1 AND event_id IN (SELECT value FROM json_each(?3)) AND stream = ?2
