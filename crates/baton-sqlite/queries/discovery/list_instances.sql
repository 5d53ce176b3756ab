-- One service's instances by id, after ?6: only those passing at ?4 when ?3 is set, and only those carrying
-- every tag of ?5 (a JSON array).
SELECT namespace, service, instance_id, address, port, tags, metadata, check_kind, check_spec, deregister_after_ms, health, output,
       expires_at, critical_since, next_check_at, checked_by, registered_at, updated_at, modify_index
FROM service_instances
WHERE namespace = ?1 AND service = ?2
  AND (?3 = 0 OR (health = 'passing' AND (expires_at IS NULL OR expires_at > ?4)))
  AND NOT EXISTS (SELECT 1 FROM json_each(?5) AS wanted
                  WHERE wanted.value NOT IN (SELECT value FROM json_each(service_instances.tags)))
  AND (?6 IS NULL OR instance_id > ?6)
ORDER BY instance_id
LIMIT ?7
