-- A cancel reaches a workflow's running children through this; a listing walks workflows newest first.
CREATE INDEX workflows_by_parent ON workflows (namespace, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX workflows_by_created ON workflows (namespace, kind, created_at, workflow_id);
