-- Deletes every holder of a key ($1 namespace, $2 key), as a reaper that found them lapsed would.
DELETE FROM locks WHERE namespace = $1 AND key = $2
