-- Tests only: $1 running workflows `wf-1` … in the default namespace, written at once (no ANALYZE follows).
INSERT INTO workflows (namespace, workflow_id, kind, name, state, options, cancel_requested, created_at, updated_at)
SELECT 'default', 'wf-' || n, 'workflow', 'order', 'running', '{}', false, n, n FROM generate_series(1, $1) AS n
