-- Groups with a member whose lease lapsed (clock: $1, else the database's), in a fixed order (so passes lock
-- groups in the same order). The lapsed members come from the expiry index.
SELECT namespace, group_name FROM (
    SELECT namespace, group_name FROM event_group_members
    WHERE expires_at <= COALESCE($1::BIGINT, baton_now_ms())
    ORDER BY expires_at
    LIMIT $2) AS lapsed
GROUP BY namespace, group_name
ORDER BY namespace, group_name
LIMIT $2
