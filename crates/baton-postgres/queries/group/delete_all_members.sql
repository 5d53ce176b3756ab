DELETE FROM event_group_members WHERE namespace = $1 AND group_name = $2
