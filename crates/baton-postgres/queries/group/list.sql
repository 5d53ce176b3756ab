SELECT namespace, group_name, partitions, stream_prefix, event_type, start_from, generation, created_at
FROM event_groups
WHERE namespace = $1
ORDER BY group_name
