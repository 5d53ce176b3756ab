-- Stores or replaces many entries of one namespace in one statement; each entry's tags arrive as a JSON array.
INSERT INTO cache_entries (namespace, key, value, tags, size, created_at, expires_at)
SELECT $1, key, value, ARRAY(SELECT jsonb_array_elements_text(tags::JSONB)), size, created_at, expires_at
FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[])
     AS u(key, value, tags, size, created_at, expires_at)
ON CONFLICT (namespace, key) DO UPDATE SET
    value = excluded.value,
    tags = excluded.tags,
    size = excluded.size,
    created_at = excluded.created_at,
    expires_at = excluded.expires_at
