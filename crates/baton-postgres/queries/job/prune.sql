-- Deletes up to $2 jobs finalized more than $1 milliseconds ago, by the database clock unless $3 is set.
DELETE FROM jobs WHERE (namespace, job_id) IN (
    SELECT namespace, job_id FROM jobs
    WHERE finalized_at < COALESCE($3::BIGINT, baton_now_ms()) - $1
    LIMIT $2
)
