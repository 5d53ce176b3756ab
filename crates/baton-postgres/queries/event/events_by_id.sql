-- The events of one stream with these ids. Each id is looked up through its own index (OFFSET 0 keeps the
-- LATERAL a lookup per id), and the stream is tested outside the index condition: a generic plan made while the
-- table was empty took the stream's index and would walk every event of the stream.
SELECT found.*
FROM unnest($3::TEXT[]) AS wanted(event_id)
CROSS JOIN LATERAL (
    SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
    FROM events
    WHERE namespace = $1 AND event_id = wanted.event_id AND (stream = $2) IS TRUE
    OFFSET 0
) AS found
