-- The live entries of the named keys (clock: $3, else the database's).
SELECT namespace, key, value, tags, created_at, expires_at
FROM cache_entries
WHERE namespace = $1 AND key = ANY($2::TEXT[])
  AND (expires_at IS NULL OR expires_at > COALESCE($3::BIGINT, baton_now_ms()))
