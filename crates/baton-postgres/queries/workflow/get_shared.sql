-- `IS TRUE` keeps the kind out of the index condition, so only the key narrows the scan: otherwise, with
-- statistics that are missing (a table not yet analyzed) or skewed, a generic plan took an index that starts
-- (namespace, kind) and walked every workflow of the namespace to find the id.
SELECT * FROM workflows WHERE namespace = $1 AND workflow_id = $2 AND (kind = 'workflow') IS TRUE
