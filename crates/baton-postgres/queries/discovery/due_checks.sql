-- Checked instances whose next check is due at $1, most overdue first, skipping rows another transaction holds.
SELECT namespace, service, instance_id, address, port, tags, metadata, check_kind, check_spec, deregister_after_ms, health, output,
       expires_at, critical_since, next_check_at, checked_by, registered_at, updated_at, modify_index
FROM service_instances
WHERE next_check_at IS NOT NULL AND next_check_at <= $1
ORDER BY next_check_at
LIMIT $2
FOR UPDATE SKIP LOCKED
