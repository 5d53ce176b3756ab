-- A checkpoint's fence: the run's job beside its workflow (the writer thread serialises writes, so nothing is
-- held). No row when the job is missing; the workflow's columns are null when the workflow is.
SELECT locked.*, run.state AS run_state, run.lease_token AS run_lease_token
FROM jobs AS run LEFT JOIN workflows AS locked
    ON locked.namespace = run.namespace AND locked.kind = 'workflow' AND locked.workflow_id = ?2
WHERE run.namespace = ?1 AND run.job_id = ?3
