SELECT * FROM workflows WHERE namespace = ?1 AND kind = 'saga' AND idempotency_key = ?2
