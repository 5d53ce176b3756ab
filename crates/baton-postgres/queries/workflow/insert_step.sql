-- Writes nothing when the step's index is recorded already: the caller then reads the first write.
INSERT INTO workflow_steps (namespace, workflow_id, step_index, phase, name, spec, state, job_id, attempts, output,
    errors, started_at, finished_at)
VALUES ($1, $2, $3, 'action', $4, $5, $6, NULL, $7, $8, $9, $10, $11)
ON CONFLICT DO NOTHING
