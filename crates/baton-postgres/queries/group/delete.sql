DELETE FROM event_groups WHERE namespace = $1 AND group_name = $2
