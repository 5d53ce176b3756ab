-- The log's head, and the log from position $2 back (the head when $2 is NULL), through the same filters and
-- in the same single snapshot as read_all_forward.sql.
SELECT h.head, e.*
FROM (SELECT COALESCE((SELECT last_version FROM event_streams WHERE namespace = $1 AND stream = '$all'), 0) AS head) h
LEFT JOIN LATERAL (
    SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
    FROM events
    WHERE namespace = $1 AND global_position <= COALESCE($2, h.head)
      AND ($3::TEXT IS NULL OR event_type = $3)
      AND ($4::TEXT IS NULL OR left(stream, length($4)) = $4)
      AND ($5::BIGINT IS NULL OR (stream_hash >= $5 AND stream_hash < $6))
    ORDER BY global_position DESC
    LIMIT $7
) e ON TRUE
ORDER BY e.global_position DESC
