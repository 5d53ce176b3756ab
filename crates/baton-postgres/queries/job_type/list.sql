-- Job types of namespace $1, or of every namespace when $1 is NULL.
SELECT * FROM job_types WHERE $1::TEXT IS NULL OR namespace = $1 ORDER BY namespace, job_type
