UPDATE locks SET metadata = $4 WHERE namespace = $1 AND key = $2 AND lock_id = $3
