-- What an append changes in a stream's row; its settings stay, and truncate_before never moves back.
INSERT INTO event_streams (namespace, stream, stream_hash, last_version, truncate_before, created_at,
                           last_appended_at, deleted_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (namespace, stream) DO UPDATE SET
    last_version = excluded.last_version,
    truncate_before = max(event_streams.truncate_before, excluded.truncate_before),
    last_appended_at = excluded.last_appended_at,
    deleted_at = excluded.deleted_at
