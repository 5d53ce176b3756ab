-- A stream's events with versions in [$3, $4], newest first, not older than max_age_ms $5 (clock: $6, else the
-- database's).
SELECT event_id, stream, stream_hash, version, global_position, event_type, data, metadata, recorded_at
FROM events
WHERE namespace = $1 AND stream = $2 AND version BETWEEN $3 AND $4
  AND ($5::BIGINT IS NULL OR recorded_at >= COALESCE($6::BIGINT, baton_now_ms()) - $5)
ORDER BY version DESC
LIMIT $7
