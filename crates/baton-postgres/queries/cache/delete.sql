DELETE FROM cache_entries WHERE namespace = $1 AND key = $2
