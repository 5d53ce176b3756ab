-- The workflow a run's job belongs to. INDEXED BY: with no statistics the planner took the (namespace, kind)
-- prefix of workflows_by_created and scanned every workflow of the namespace.
SELECT * FROM workflows INDEXED BY workflows_by_job WHERE namespace = ?1 AND job_id = ?2 AND kind = 'workflow'
