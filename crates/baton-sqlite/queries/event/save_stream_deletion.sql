UPDATE event_streams SET truncate_before = max(truncate_before, ?3), deleted_at = ?4
WHERE namespace = ?1 AND stream = ?2
