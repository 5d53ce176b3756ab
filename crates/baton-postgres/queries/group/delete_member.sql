DELETE FROM event_group_members WHERE namespace = $1 AND group_name = $2 AND member_id = $3
