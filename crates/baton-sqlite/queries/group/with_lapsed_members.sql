-- Groups with a member whose lease lapsed at ?1, in a fixed order (so passes lock groups in the same order).
SELECT DISTINCT namespace, group_name
FROM event_group_members
WHERE expires_at <= ?1
ORDER BY namespace, group_name
LIMIT ?2
