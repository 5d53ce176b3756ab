DELETE FROM locks WHERE namespace = $1 AND key = $2 AND lease_id = $3
