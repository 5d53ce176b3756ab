-- A stream's settings, replacing the previous ones; truncate_before never moves back.
INSERT INTO event_streams (namespace, stream, stream_hash, last_version, truncate_before, max_count, max_age_ms,
                           metadata, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (namespace, stream) DO UPDATE SET
    truncate_before = max(event_streams.truncate_before, excluded.truncate_before),
    max_count = excluded.max_count,
    max_age_ms = excluded.max_age_ms,
    metadata = excluded.metadata
