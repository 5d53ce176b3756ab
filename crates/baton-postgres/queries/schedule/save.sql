INSERT INTO job_schedules (namespace, name, cron, timezone, queue, template, overlap, paused, next_fire_at,
                           last_fired_at, last_job_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (namespace, name) DO UPDATE SET
    cron = excluded.cron, timezone = excluded.timezone, queue = excluded.queue, template = excluded.template,
    overlap = excluded.overlap, paused = excluded.paused, next_fire_at = excluded.next_fire_at,
    last_fired_at = excluded.last_fired_at, last_job_id = excluded.last_job_id
