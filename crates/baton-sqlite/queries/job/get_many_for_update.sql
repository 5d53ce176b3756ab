-- Jobs by id (?2, a JSON array), in id order. The writer thread holds the database, so no row lock is needed.
SELECT * FROM jobs WHERE namespace = ?1 AND job_id IN (SELECT value FROM json_each(?2)) ORDER BY job_id
