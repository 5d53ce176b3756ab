-- A fetch's claim in one statement: the best available jobs ($3 types if set, up to $4), that no concurrent fetch
-- holds, each started with a fresh lease token ($5 lease length, $6 now, $7 worker), unless one of them has a
-- concurrency key: then none is claimed and the caller picks within the key limits (the candidates stay locked
-- either way). Always one row more than the jobs claimed, or one row of nulls: `keyed` and `available` describe
-- the candidates. The held rows are updated by ctid, so no cached plan can scan for them; the claimed ones come
-- back best first, as the candidates were picked (the UPDATE does not keep their order).
WITH candidates AS (
    SELECT ctid AS row_id, concurrency_key FROM jobs
    WHERE namespace = $1 AND queue = $2 AND state = 'available'
      AND ($3::TEXT[] IS NULL OR job_type = ANY($3))
    ORDER BY priority DESC, run_at, job_id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
), found AS (
    SELECT count(*) AS available, count(concurrency_key) > 0 AS keyed FROM candidates
), claimed AS (
    UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_token = nextval('baton_job_lease_token'),
                    lease_ms = $5, lease_expires_at = $6 + $5, worker_id = $7, heartbeat_at = $6, attempted_at = $6
    FROM candidates, found
    WHERE jobs.ctid = candidates.row_id AND NOT found.keyed
    RETURNING jobs.*
)
SELECT claimed.*, found.available, found.keyed FROM found LEFT JOIN claimed ON true
ORDER BY claimed.priority DESC, claimed.run_at, claimed.job_id
