UPDATE event_group_checkpoints SET position = $4 WHERE namespace = $1 AND group_name = $2 AND partition_no = $3
