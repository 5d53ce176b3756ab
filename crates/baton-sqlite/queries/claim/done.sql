-- The done records of the named resources (?2, a JSON array; a name given twice finds its record twice).
-- The names drive the join (CROSS JOIN keeps that order) and each finds its record by the primary key: the
-- `IN (SELECT value FROM json_each(...))` form built a temporary b-tree of the names on every run.
SELECT d.namespace, d.resource, d.claim_id, d.owner, d.fencing_token, d.acquired_at, d.done_at, d.metadata
FROM json_each(?2) AS wanted
CROSS JOIN claims_done AS d ON d.namespace = ?1 AND d.resource = wanted.value
