-- The log's last position (the '$all' row's version).
SELECT last_version FROM event_streams WHERE namespace = $1 AND stream = '$all'
