DELETE FROM service_instances WHERE namespace = $1 AND service = $2 AND instance_id = $3
