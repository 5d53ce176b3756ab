INSERT INTO events (namespace, global_position, stream, stream_hash, version, event_id, event_type, data, metadata,
                    recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
