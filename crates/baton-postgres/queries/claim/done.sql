-- The done records of the named resources.
SELECT namespace, resource, claim_id, owner, fencing_token, acquired_at, done_at, metadata
FROM claims_done
WHERE namespace = $1 AND resource = ANY($2::TEXT[])
