-- Jobs by id, held until the transaction ends. The caller passes the ids sorted: each is looked up and locked
-- in that order, so concurrent batches never deadlock. The database clock comes with each row, read once that
-- row and the ones before it are held, so the transaction needs no round trip of its own for it.
-- One key lookup per id (the LATERAL's LIMIT keeps it from being rewritten into a join): a generic plan made
-- while the table was empty, and kept, would otherwise scan every job of the namespace.
SELECT job.*, baton_now_ms() AS read_at
FROM unnest($2::TEXT[]) AS wanted(job_id)
CROSS JOIN LATERAL (
    SELECT * FROM jobs WHERE namespace = $1 AND job_id = wanted.job_id LIMIT 1 FOR UPDATE
) AS job
