SELECT modify_index FROM service_indexes WHERE namespace = ?1 AND service = ?2
