-- Streams whose unreadable events are all deleted now.
UPDATE event_streams AS s SET pruned_before = s.truncate_before
WHERE s.truncate_before > s.pruned_before
  AND NOT EXISTS (SELECT 1 FROM events e
                  WHERE e.namespace = s.namespace AND e.stream = s.stream
                    AND e.version >= s.pruned_before AND e.version < s.truncate_before)
