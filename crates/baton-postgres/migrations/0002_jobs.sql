-- Jobs and queue settings. Every key starts with namespace. Times are milliseconds since the Unix epoch; JSON
-- values (payload, backoff, errors, tags, ...) are stored as text. Lease tokens come from a sequence.
CREATE TABLE jobs (
    namespace        TEXT    NOT NULL,
    job_id           TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    job_type         TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    priority         BIGINT  NOT NULL,
    state            TEXT    NOT NULL,
    attempt          BIGINT  NOT NULL,
    max_attempts     BIGINT  NOT NULL,
    backoff          TEXT    NOT NULL,
    timeout_ms       BIGINT,
    run_at           BIGINT  NOT NULL,
    lease_token      BIGINT,
    lease_ms         BIGINT,
    lease_expires_at BIGINT,
    worker_id        TEXT,
    heartbeat_at     BIGINT,
    progress         TEXT,
    result           TEXT,
    errors           TEXT    NOT NULL,
    unique_key       TEXT,
    concurrency_key  TEXT,
    tags             TEXT    NOT NULL,
    metadata         TEXT,
    trace_context    TEXT,
    cancel_requested BOOLEAN NOT NULL,
    created_at       BIGINT  NOT NULL,
    attempted_at     BIGINT,
    finalized_at     BIGINT,
    PRIMARY KEY (namespace, job_id),
    CHECK (state IN ('scheduled', 'available', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
    CHECK ((state IN ('completed', 'discarded', 'cancelled')) = (finalized_at IS NOT NULL))
);
-- The fetch order among available jobs: best priority, then due time, then age. Scheduled and retryable jobs
-- wait in their own index by due time and become available when due, so a fetch reads only the jobs it takes.
CREATE INDEX jobs_available ON jobs (namespace, queue, priority DESC, run_at, job_id) WHERE state = 'available';
CREATE INDEX jobs_due ON jobs (namespace, queue, run_at) WHERE state IN ('scheduled', 'retryable');
-- The running jobs, few by nature: leases by expiry for the reaper, and counts per queue or key scan them.
CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_unique ON jobs (namespace, queue, unique_key, created_at) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_finalized ON jobs (finalized_at) WHERE finalized_at IS NOT NULL;

CREATE TABLE job_queues (
    namespace           TEXT    NOT NULL,
    queue               TEXT    NOT NULL,
    paused              BOOLEAN NOT NULL,
    global_concurrency  BIGINT,
    rate_limit          BIGINT,
    rate_period_ms      BIGINT,
    per_key_concurrency BIGINT  NOT NULL,
    -- The rate limit's fixed window: when it began and how many jobs it started.
    rate_window_start   BIGINT  NOT NULL,
    rate_window_taken   BIGINT  NOT NULL,
    PRIMARY KEY (namespace, queue)
);

CREATE SEQUENCE baton_job_lease_token;
