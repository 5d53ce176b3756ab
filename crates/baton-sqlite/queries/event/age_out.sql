-- Moves truncate_before past the events older than each stream's max_age_ms (?1 is now). Only streams whose
-- oldest readable event has aged out are written.
UPDATE event_streams AS s
SET truncate_before = coalesce(
        (SELECT e.version FROM events e
         WHERE e.namespace = s.namespace AND e.stream = s.stream AND e.version >= s.truncate_before
           AND e.recorded_at >= ?1 - s.max_age_ms
         ORDER BY e.version LIMIT 1),
        s.last_version + 1)
WHERE s.max_age_ms IS NOT NULL
  AND (SELECT e.recorded_at FROM events e
       WHERE e.namespace = s.namespace AND e.stream = s.stream AND e.version >= s.truncate_before
       ORDER BY e.version LIMIT 1) < ?1 - s.max_age_ms
