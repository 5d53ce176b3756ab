-- Jobs by id, held until the transaction ends; locked in id order so concurrent batches never deadlock.
SELECT * FROM jobs WHERE namespace = $1 AND job_id = ANY($2::TEXT[]) ORDER BY job_id FOR UPDATE
