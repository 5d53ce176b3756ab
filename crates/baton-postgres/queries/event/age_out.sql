-- Moves truncate_before past the events older than each stream's max_age_ms (clock: $1, else the database's).
-- Only streams whose oldest readable event aged out are written, locked in name order like every writer of
-- many stream rows. When every event it sees aged out, truncate_before goes one past the newest event it sees,
-- not to last_version + 1: an append that commits while this statement waits for its stream row has moved
-- last_version, but its event is not in this statement's snapshot and must not be truncated unseen.
WITH now AS (SELECT COALESCE($1::BIGINT, baton_now_ms()) AS ms),
aged AS (
    SELECT s.namespace, s.stream
    FROM event_streams s, now
    WHERE s.max_age_ms IS NOT NULL
      AND (SELECT e.recorded_at FROM events e
           WHERE e.namespace = s.namespace AND e.stream = s.stream AND e.version >= s.truncate_before
           ORDER BY e.version LIMIT 1) < now.ms - s.max_age_ms
    ORDER BY s.namespace, s.stream
    FOR UPDATE OF s
)
UPDATE event_streams AS s
SET truncate_before = COALESCE(
        (SELECT e.version FROM events e, now
         WHERE e.namespace = s.namespace AND e.stream = s.stream AND e.version >= s.truncate_before
           AND e.recorded_at >= now.ms - s.max_age_ms
         ORDER BY e.version LIMIT 1),
        (SELECT max(e.version) + 1 FROM events e WHERE e.namespace = s.namespace AND e.stream = s.stream))
FROM aged
WHERE s.namespace = aged.namespace AND s.stream = aged.stream
