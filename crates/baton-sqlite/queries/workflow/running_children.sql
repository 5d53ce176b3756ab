-- The running children of a workflow, for a cancel to pass on.
SELECT workflow_id FROM workflows
WHERE namespace = ?1 AND kind = 'workflow' AND parent_id = ?2 AND state = 'running'
ORDER BY workflow_id
