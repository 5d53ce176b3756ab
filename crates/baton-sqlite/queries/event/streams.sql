-- The rows of the named streams (?2, a JSON array of names; a name given twice finds its row twice). The names
-- drive the join (CROSS JOIN keeps that order) and each finds its row by the primary key: the
-- `IN (SELECT value FROM json_each(...))` form built a temporary b-tree of the names on every run.
SELECT s.namespace, s.stream, s.stream_hash, s.last_version, s.truncate_before, s.max_count, s.max_age_ms,
       s.metadata, s.created_at, s.last_appended_at, s.deleted_at
FROM json_each(?2) AS wanted
CROSS JOIN event_streams AS s ON s.namespace = ?1 AND s.stream = wanted.value
