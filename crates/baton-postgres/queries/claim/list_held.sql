-- Live holders of claim keys ($2: the reserved key prefix plus a resource prefix), by key, after key $4, with
-- an optional owner filter $3. Claims never bind to leases, so a holder's own expiry is its claim's.
SELECT lock_id, key, owner, fencing_token, permits, ttl_ms, acquired_at, expires_at, lease_id, metadata
FROM locks
WHERE namespace = $1 AND left(key, length($2)) = $2 AND expires_at > COALESCE($5::BIGINT, baton_now_ms())
  AND ($3::TEXT IS NULL OR owner = $3)
  AND ($4::TEXT IS NULL OR key > $4)
ORDER BY key
LIMIT $6
