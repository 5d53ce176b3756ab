DELETE FROM leases WHERE namespace = $1 AND lease_id = $2
