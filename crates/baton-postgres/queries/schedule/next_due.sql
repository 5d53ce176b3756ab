SELECT min(next_fire_at) FROM job_schedules WHERE NOT paused
