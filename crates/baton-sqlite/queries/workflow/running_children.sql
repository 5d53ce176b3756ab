-- The running children of a workflow, for a cancel to pass on. INDEXED BY: otherwise the planner took the
-- (namespace, kind, state) index and read every running workflow of the namespace.
SELECT workflow_id FROM workflows INDEXED BY workflows_by_parent
WHERE namespace = ?1 AND parent_id = ?2 AND kind = 'workflow' AND state = 'running'
ORDER BY workflow_id
