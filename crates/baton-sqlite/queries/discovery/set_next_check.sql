UPDATE service_instances SET next_check_at = ?4 WHERE namespace = ?1 AND service = ?2 AND instance_id = ?3
