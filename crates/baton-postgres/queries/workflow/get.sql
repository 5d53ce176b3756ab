-- The workflow, its row held until the transaction ends, with the database clock read once the row is held (the
-- locking subquery runs first), so the transaction needs no round trip of its own for the clock. A missing
-- workflow still answers one row, with the clock and null columns: a start needs the clock either way.
-- `IS TRUE` keeps the kind out of the index condition, so only the key narrows the scan: otherwise, with
-- statistics that are missing (a table not yet analyzed) or skewed, a generic plan took an index that starts
-- (namespace, kind) and walked every workflow of the namespace to find the id.
SELECT locked.*, baton_now_ms() AS read_at FROM (SELECT) AS one LEFT JOIN LATERAL (
    SELECT * FROM workflows WHERE namespace = $1 AND workflow_id = $2 AND (kind = 'workflow') IS TRUE FOR UPDATE
) AS locked ON true
