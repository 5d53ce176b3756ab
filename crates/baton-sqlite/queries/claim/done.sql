-- The done records of the named resources (?2, a JSON array).
SELECT namespace, resource, claim_id, owner, fencing_token, acquired_at, done_at, metadata
FROM claims_done
WHERE namespace = ?1 AND resource IN (SELECT value FROM json_each(?2))
