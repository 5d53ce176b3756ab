-- Streams whose unreadable events are all deleted now, locked in name order like every writer of many stream
-- rows.
WITH done AS (
    SELECT s.namespace, s.stream
    FROM event_streams s
    WHERE s.truncate_before > s.pruned_before
      AND NOT EXISTS (SELECT 1 FROM events e
                      WHERE e.namespace = s.namespace AND e.stream = s.stream
                        AND e.version >= s.pruned_before AND e.version < s.truncate_before)
    ORDER BY s.namespace, s.stream
    FOR UPDATE OF s
)
UPDATE event_streams AS s SET pruned_before = s.truncate_before
FROM done
WHERE s.namespace = done.namespace AND s.stream = done.stream
