-- Inserts many events of one namespace in one statement (one array per column).
INSERT INTO events (namespace, global_position, stream, stream_hash, version, event_id, event_type, data, metadata,
                    recorded_at)
SELECT $1, global_position, stream, stream_hash, version, event_id, event_type, data, metadata, recorded_at
FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[],
            $10::BIGINT[])
     AS u(global_position, stream, stream_hash, version, event_id, event_type, data, metadata, recorded_at)
