SELECT DISTINCT key FROM locks WHERE namespace = ?1 AND lease_id = ?2 ORDER BY key
