-- Sorted by id: the order that decides who owns which partitions.
SELECT member_id, ttl_ms, joined_at, expires_at
FROM event_group_members
WHERE namespace = $1 AND group_name = $2
ORDER BY member_id
