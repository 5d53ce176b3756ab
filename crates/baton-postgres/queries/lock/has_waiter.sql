SELECT COUNT(*) FROM lock_waiters WHERE namespace = $1 AND key = $2 AND waiter_id = $3 AND deadline > $4
