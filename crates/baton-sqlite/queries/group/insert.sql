INSERT INTO event_groups (namespace, group_name, partitions, stream_prefix, event_type, start_from, generation,
                          created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
