-- The events of one stream with these ids.
SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
FROM events
WHERE namespace = $1 AND event_id = ANY($3::TEXT[]) AND stream = $2
