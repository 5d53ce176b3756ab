-- Cron schedules. The job template is JSON text; times are milliseconds since the Unix epoch.
CREATE TABLE job_schedules (
    namespace     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    cron          TEXT    NOT NULL,
    timezone      TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    template      TEXT    NOT NULL,
    overlap       TEXT    NOT NULL,
    paused        BOOLEAN NOT NULL,
    next_fire_at  BIGINT,
    last_fired_at BIGINT,
    last_job_id   TEXT,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX job_schedules_due ON job_schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;
