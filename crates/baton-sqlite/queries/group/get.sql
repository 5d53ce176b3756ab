SELECT namespace, group_name, partitions, stream_prefix, event_type, start_from, generation, created_at
FROM event_groups
WHERE namespace = ?1 AND group_name = ?2
