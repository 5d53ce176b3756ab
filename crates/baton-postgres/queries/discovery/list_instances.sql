-- One service's instances by id, after $6: only those passing at $4 when $3 is set, and only those carrying
-- every tag of $5 (a JSON array).
SELECT namespace, service, instance_id, address, port, tags, metadata, check_kind, check_spec, deregister_after_ms, health, output,
       expires_at, critical_since, next_check_at, checked_by, registered_at, updated_at, modify_index
FROM service_instances
WHERE namespace = $1 AND service = $2
  AND (NOT $3 OR (health = 'passing' AND (expires_at IS NULL OR expires_at > $4)))
  AND tags::JSONB @> $5::JSONB
  AND ($6::TEXT IS NULL OR instance_id > $6)
ORDER BY instance_id
LIMIT $7
