-- Existing streams whose hash is in [$2, $3), with an optional name prefix $4 (uses event_streams_hash).
SELECT count(*) FROM event_streams
WHERE namespace = $1 AND stream_hash >= $2 AND stream_hash < $3
  AND deleted_at IS NULL AND last_version >= 0 AND left(stream, 1) <> '$'
  AND ($4::TEXT IS NULL OR left(stream, length($4)) = $4)
