-- Unpaused schedules whose next tick is due at ?1.
SELECT * FROM job_schedules WHERE next_fire_at <= ?1 AND NOT paused ORDER BY next_fire_at LIMIT ?2
