-- Whether a workflow or a saga (they share the table and its key) already has this id.
SELECT 1 FROM workflows WHERE namespace = $1 AND workflow_id = $2
