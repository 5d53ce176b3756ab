SELECT namespace, service, instance_id, address, port, tags, metadata, check_kind, check_spec, deregister_after_ms, health, output,
       expires_at, critical_since, next_check_at, checked_by, registered_at, updated_at, modify_index
FROM service_instances
WHERE namespace = ?1 AND service = ?2 AND instance_id = ?3
