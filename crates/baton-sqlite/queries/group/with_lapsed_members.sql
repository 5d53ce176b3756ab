-- Groups with a member whose lease lapsed at ?1, in a fixed order (so passes lock groups in the same order). The
-- lapsed members come from the expiry index; ordered by group alone, the planner walked every member instead.
SELECT namespace, group_name FROM (
    SELECT namespace, group_name FROM event_group_members WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)
GROUP BY namespace, group_name
ORDER BY namespace, group_name
LIMIT ?2
