-- Writes an append batch of one namespace ($1) in one statement: its events (one array per column, $2-$10) and
-- what it changes in its streams' rows ($11-$17; empty arrays write none). The stream rows keep their settings,
-- truncate_before never moves back, and they are written in name order, the order every writer of many stream
-- rows takes their locks in.
WITH heads AS (
    INSERT INTO event_streams (namespace, stream, stream_hash, last_version, truncate_before, created_at,
                               last_appended_at, deleted_at)
    SELECT $1, stream, stream_hash, last_version, truncate_before, created_at, last_appended_at, deleted_at
    FROM UNNEST($11::TEXT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[], $15::BIGINT[], $16::BIGINT[],
                $17::BIGINT[])
         AS u(stream, stream_hash, last_version, truncate_before, created_at, last_appended_at, deleted_at)
    ORDER BY stream
    ON CONFLICT (namespace, stream) DO UPDATE SET
        last_version = excluded.last_version,
        truncate_before = GREATEST(event_streams.truncate_before, excluded.truncate_before),
        last_appended_at = excluded.last_appended_at,
        deleted_at = excluded.deleted_at
)
INSERT INTO events (namespace, global_position, stream, stream_hash, version, event_id, event_type, data, metadata,
                    recorded_at)
SELECT $1, global_position, stream, stream_hash, version, event_id, event_type, data, metadata, recorded_at
FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[],
            $10::BIGINT[])
     AS u(global_position, stream, stream_hash, version, event_id, event_type, data, metadata, recorded_at)
