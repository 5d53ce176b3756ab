-- Running jobs whose lease or timeout lapsed at $1, up to $2; rows another pass or an ack holds are skipped. Each
-- kind is read through its own index, up to the limit, and each row is then locked by its ctid, one lookup per
-- row (the LATERAL's LIMIT keeps it from being rewritten into a join): with one condition over an OR, a pass read
-- every running job. The conditions are checked again on each row once it is locked.
SELECT job.*
FROM (
    (SELECT ctid AS row_id FROM jobs
     WHERE state = 'running' AND lease_expires_at <= $1
     ORDER BY lease_expires_at
     LIMIT $2)
    UNION
    (SELECT ctid AS row_id FROM jobs
     WHERE state = 'running' AND timeout_ms IS NOT NULL AND attempted_at + timeout_ms <= $1
     ORDER BY attempted_at + timeout_ms
     LIMIT $2)
) AS lapsed
CROSS JOIN LATERAL (
    SELECT * FROM jobs
    WHERE ctid = lapsed.row_id
      AND state = 'running'
      AND (lease_expires_at <= $1 OR (timeout_ms IS NOT NULL AND attempted_at + timeout_ms <= $1))
    LIMIT 1
    FOR UPDATE SKIP LOCKED
) AS job
ORDER BY job.lease_expires_at
LIMIT $2
