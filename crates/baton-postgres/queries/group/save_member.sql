INSERT INTO event_group_members (namespace, group_name, member_id, ttl_ms, joined_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (namespace, group_name, member_id) DO UPDATE SET
    ttl_ms = excluded.ttl_ms,
    expires_at = excluded.expires_at
