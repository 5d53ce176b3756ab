DELETE FROM lock_waiters WHERE namespace = $1 AND key = $2 AND deadline <= $3
