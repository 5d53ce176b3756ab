SELECT MIN(next_check_at) FROM service_instances WHERE next_check_at IS NOT NULL
