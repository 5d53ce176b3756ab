-- How many of a stream's events a read may return: versions ?3 and up, recorded at ?4 or later.
SELECT count(*) FROM events WHERE namespace = ?1 AND stream = ?2 AND version >= ?3 AND recorded_at >= ?4
