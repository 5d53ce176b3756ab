-- The log's head, and the log from position $2 on through optional filters: event type $3, stream prefix $4,
-- stream hashes in [$5, $6). One statement, so the head and the events come from one snapshot: every event up
-- to the head is visible to it. With no events, one row carries only the head.
SELECT h.head, e.*
FROM (SELECT COALESCE((SELECT last_version FROM event_streams WHERE namespace = $1 AND stream = '$all'), 0) AS head) h
LEFT JOIN LATERAL (
    SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
    FROM events
    WHERE namespace = $1 AND global_position >= $2
      AND ($3::TEXT IS NULL OR event_type = $3)
      AND ($4::TEXT IS NULL OR left(stream, length($4)) = $4)
      AND ($5::BIGINT IS NULL OR (stream_hash >= $5 AND stream_hash < $6))
    ORDER BY global_position
    LIMIT $7
) e ON TRUE
ORDER BY e.global_position
