-- What an append changes in these streams' rows; their settings stay, and truncate_before never moves back. Rows
-- are written in name order, the order every writer of many stream rows takes their locks in.
INSERT INTO event_streams (namespace, stream, stream_hash, last_version, truncate_before, created_at,
                           last_appended_at, deleted_at)
SELECT $1, stream, stream_hash, last_version, truncate_before, created_at, last_appended_at, deleted_at
FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[])
     AS u(stream, stream_hash, last_version, truncate_before, created_at, last_appended_at, deleted_at)
ORDER BY stream
ON CONFLICT (namespace, stream) DO UPDATE SET
    last_version = excluded.last_version,
    truncate_before = GREATEST(event_streams.truncate_before, excluded.truncate_before),
    last_appended_at = excluded.last_appended_at,
    deleted_at = excluded.deleted_at
