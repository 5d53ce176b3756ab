-- Deletes up to $1 events below their stream's truncate_before that are still stored.
DELETE FROM events WHERE (namespace, global_position) IN (
    SELECT e.namespace, e.global_position FROM event_streams s
    JOIN events e ON e.namespace = s.namespace AND e.stream = s.stream
                 AND e.version >= s.pruned_before AND e.version < s.truncate_before
    WHERE s.truncate_before > s.pruned_before
    LIMIT $1)
