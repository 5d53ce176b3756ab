-- Running jobs by the moment their timeout ends, so the reaper finds timed-out attempts, and the next one due,
-- without reading every running job.
CREATE INDEX jobs_running_deadline ON jobs ((attempted_at + timeout_ms)) WHERE state = 'running' AND timeout_ms IS NOT NULL;
