-- Every entry of the namespace that carries one of the tags.
DELETE FROM cache_entries WHERE namespace = $1 AND tags && $2::TEXT[]
