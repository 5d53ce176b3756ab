-- Code-first durable workflows in the saga tables (kind = 'workflow'). A run is a job of the workflow's queue,
-- named by workflows.job_id; each ctx.step is a workflow_steps row (phase 'action') written once. SQLite cannot
-- change a CHECK constraint in place, so workflows is rebuilt with the 'failed' state and the new columns.
CREATE TABLE workflows_rebuilt (
    namespace       TEXT    NOT NULL,
    workflow_id     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    input           TEXT,
    metadata        TEXT,
    current_step    INTEGER,
    idempotency_key TEXT,
    failed_step     INTEGER,
    error           TEXT,
    cancel_requested INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    -- The workflow function's return value.
    output          TEXT,
    -- Queue, priority and timeout, as started (JSON).
    options         TEXT,
    -- The workflow that started this one as a child.
    parent_id       TEXT,
    -- The job of the current run: its lease fences the executor's checkpoints.
    job_id          TEXT,
    PRIMARY KEY (namespace, workflow_id),
    CHECK (kind IN ('saga', 'workflow')),
    CHECK (state IN ('running', 'completed', 'failed', 'compensating', 'compensated', 'compensation_failed',
                     'cancelled')),
    CHECK ((state IN ('completed', 'failed', 'compensated', 'compensation_failed', 'cancelled'))
           = (finished_at IS NOT NULL))
);
INSERT INTO workflows_rebuilt (namespace, workflow_id, kind, name, state, input, metadata, current_step,
        idempotency_key, failed_step, error, cancel_requested, created_at, updated_at, finished_at)
    SELECT namespace, workflow_id, kind, name, state, input, metadata, current_step, idempotency_key, failed_step,
        error, cancel_requested, created_at, updated_at, finished_at
    FROM workflows;
DROP TABLE workflows;
ALTER TABLE workflows_rebuilt RENAME TO workflows;
CREATE UNIQUE INDEX workflows_idempotency ON workflows (namespace, kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX workflows_by_state ON workflows (namespace, kind, state, workflow_id);
CREATE INDEX workflows_by_name ON workflows (namespace, kind, name, workflow_id);
CREATE INDEX workflows_by_job ON workflows (namespace, job_id) WHERE job_id IS NOT NULL;

-- Messages sent to a workflow (ctx.send, or POST .../messages), taken once by the step that receives them.
CREATE TABLE workflow_messages (
    namespace   TEXT    NOT NULL,
    workflow_id TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    message     TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL,
    consumed_at INTEGER,
    PRIMARY KEY (namespace, workflow_id, topic, seq)
);

-- Key-value events a workflow publishes (ctx.set_event); the latest value of a key wins.
CREATE TABLE workflow_events (
    namespace   TEXT    NOT NULL,
    workflow_id TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    set_at      INTEGER NOT NULL,
    PRIMARY KEY (namespace, workflow_id, key)
);
