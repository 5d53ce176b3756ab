INSERT INTO claims_done (namespace, resource, claim_id, owner, fencing_token, acquired_at, done_at, metadata)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
