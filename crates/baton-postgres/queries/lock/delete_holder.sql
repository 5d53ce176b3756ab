DELETE FROM locks WHERE namespace = $1 AND key = $2 AND lock_id = $3
