-- Inserts the instance, or replaces every column but its key.
INSERT INTO service_instances (namespace, service, instance_id, address, port, tags, metadata, check_kind, check_spec,
                               deregister_after_ms, health, output, expires_at, critical_since, next_check_at,
                               checked_by, registered_at, updated_at, modify_index)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (namespace, service, instance_id) DO UPDATE SET
    address = excluded.address, port = excluded.port, tags = excluded.tags, metadata = excluded.metadata,
    check_kind = excluded.check_kind, check_spec = excluded.check_spec,
    deregister_after_ms = excluded.deregister_after_ms, health = excluded.health, output = excluded.output,
    expires_at = excluded.expires_at, critical_since = excluded.critical_since,
    next_check_at = excluded.next_check_at, checked_by = excluded.checked_by,
    registered_at = excluded.registered_at, updated_at = excluded.updated_at, modify_index = excluded.modify_index
