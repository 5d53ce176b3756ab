-- Groups by name, after ?2 when it is set, at most ?3 of them.
SELECT namespace, group_name, partitions, stream_prefix, event_type, start_from, generation, created_at
FROM event_groups
WHERE namespace = ?1 AND (?2 IS NULL OR group_name > ?2)
ORDER BY group_name
LIMIT ?3
