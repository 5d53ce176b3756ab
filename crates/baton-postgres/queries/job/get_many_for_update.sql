-- Jobs by id, held until the transaction ends; locked in id order so concurrent batches never deadlock. The
-- database clock is read once the rows are held (the locking subquery runs first), so the transaction needs no
-- round trip of its own for it.
SELECT locked.*, baton_now_ms() AS read_at FROM (
    SELECT * FROM jobs WHERE namespace = $1 AND job_id = ANY($2::TEXT[]) ORDER BY job_id FOR UPDATE
) AS locked
