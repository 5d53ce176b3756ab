INSERT INTO workflows (namespace, workflow_id, kind, name, state, input, output, error, options, parent_id, job_id,
    cancel_requested, created_at, updated_at, finished_at)
VALUES (?1, ?2, 'workflow', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
