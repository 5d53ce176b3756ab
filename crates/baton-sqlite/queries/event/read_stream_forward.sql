-- A stream's events with versions in [?3, ?4], oldest first, recorded at ?5 or later.
SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
FROM events
WHERE namespace = ?1 AND stream = ?2 AND version BETWEEN ?3 AND ?4 AND recorded_at >= ?5
ORDER BY version
LIMIT ?6
