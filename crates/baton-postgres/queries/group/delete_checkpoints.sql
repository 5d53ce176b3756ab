DELETE FROM event_group_checkpoints WHERE namespace = $1 AND group_name = $2
