-- A checkpoint's fence: the run's job, then its workflow, both rows held until the transaction ends (the job's
-- first, as the job engine's statements hold them), with the database clock read once both are held. No row
-- when the job is missing; the workflow's columns are null when the workflow is.
-- `IS TRUE` keeps the kind out of the index condition, so only the key narrows the scan: otherwise, with
-- statistics that are missing (a table not yet analyzed) or skewed, a generic plan took an index that starts
-- (namespace, kind) and walked every workflow of the namespace to find the id.
WITH run AS (
    SELECT state, lease_token FROM jobs WHERE namespace = $1 AND job_id = $3 FOR UPDATE
)
SELECT locked.*, run.state AS run_state, run.lease_token AS run_lease_token, baton_now_ms() AS read_at
FROM run LEFT JOIN LATERAL (
    SELECT * FROM workflows WHERE namespace = $1 AND workflow_id = $2 AND (kind = 'workflow') IS TRUE FOR UPDATE
) AS locked ON true
