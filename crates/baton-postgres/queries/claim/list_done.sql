-- Done claims by resource, after $3, with optional resource prefix $2 and owner $4.
SELECT namespace, resource, claim_id, owner, fencing_token, acquired_at, done_at, metadata
FROM claims_done
WHERE namespace = $1
  AND ($2::TEXT IS NULL OR left(resource, length($2)) = $2)
  AND ($3::TEXT IS NULL OR resource > $3)
  AND ($4::TEXT IS NULL OR owner = $4)
ORDER BY resource
LIMIT $5
