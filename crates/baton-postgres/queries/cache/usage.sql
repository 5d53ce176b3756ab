-- How many live entries there are and what they weigh (clock: $1, else the database's).
SELECT count(*) AS entries, COALESCE(sum(size), 0)::BIGINT AS bytes
FROM cache_entries
WHERE expires_at IS NULL OR expires_at > COALESCE($1::BIGINT, baton_now_ms())
