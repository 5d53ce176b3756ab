-- Unpaused schedules whose next tick is due at $1; rows another node is firing are skipped.
SELECT * FROM job_schedules WHERE next_fire_at <= $1 AND NOT paused ORDER BY next_fire_at LIMIT $2
FOR UPDATE SKIP LOCKED
