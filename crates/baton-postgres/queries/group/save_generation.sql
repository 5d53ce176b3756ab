UPDATE event_groups SET generation = $3 WHERE namespace = $1 AND group_name = $2
