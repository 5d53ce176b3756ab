INSERT INTO workflows (namespace, workflow_id, kind, name, state, input, metadata, current_step, idempotency_key,
                       failed_step, error, cancel_requested, created_at, updated_at, finished_at)
VALUES (?1, ?2, 'saga', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
