UPDATE event_streams SET truncate_before = GREATEST(truncate_before, $3), deleted_at = $4
WHERE namespace = $1 AND stream = $2
