-- What an append does to one stream ($1 namespace, $2 stream) before it commits: its stream row moves on one
-- version and its event goes in at the next global position, recorded at $3.
WITH head AS (
    UPDATE event_streams SET last_version = last_version + 1
    WHERE namespace = $1 AND stream = $2
    RETURNING namespace, stream, stream_hash, last_version
)
INSERT INTO events (namespace, global_position, stream, stream_hash, version, event_id, event_type, data, metadata,
                    recorded_at)
SELECT head.namespace, (SELECT max(global_position) + 1 FROM events WHERE namespace = $1), head.stream,
       head.stream_hash, head.last_version, gen_random_uuid()::text, 'fresh', '{}', NULL, $3
FROM head
