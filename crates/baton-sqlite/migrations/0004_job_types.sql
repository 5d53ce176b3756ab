-- Job types with a built-in executor. The config is JSON text; times are milliseconds since the Unix epoch.
CREATE TABLE job_types (
    namespace  TEXT    NOT NULL,
    job_type   TEXT    NOT NULL,
    executor   TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    queue      TEXT,
    timeout_ms INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, job_type)
);
