-- The workflow, its row held until the transaction ends, with the database clock read once the row is held (the
-- locking subquery runs first), so the transaction needs no round trip of its own for the clock. A missing
-- workflow still answers one row, with the clock and null columns: a start needs the clock either way.
SELECT locked.*, baton_now_ms() AS read_at FROM (SELECT) AS one LEFT JOIN LATERAL (
    SELECT * FROM workflows WHERE namespace = $1 AND kind = 'workflow' AND workflow_id = $2 FOR UPDATE
) AS locked ON true
