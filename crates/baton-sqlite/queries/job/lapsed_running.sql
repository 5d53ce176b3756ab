-- Running jobs whose lease or timeout lapsed at ?1, up to ?2. Each kind is read through its own index, up to the
-- limit, before the two are joined: one condition with an OR read every running job on every pass.
SELECT * FROM jobs WHERE rowid IN (
    SELECT rowid FROM (
        SELECT rowid FROM jobs WHERE state = 'running' AND lease_expires_at <= ?1 ORDER BY lease_expires_at LIMIT ?2)
    UNION ALL
    SELECT rowid FROM (
        SELECT rowid FROM jobs
        WHERE state = 'running' AND timeout_ms IS NOT NULL AND attempted_at + timeout_ms <= ?1
        ORDER BY attempted_at + timeout_ms
        LIMIT ?2))
ORDER BY lease_expires_at
LIMIT ?2
