-- Sagas, stored as the general case they are: a workflow run whose steps are jobs. A later code-first workflow
-- engine (ctx.step checkpoints) uses the same two tables with kind = 'workflow'. Every key starts with
-- namespace. Times are milliseconds since the Unix epoch; JSON values are stored as text.
CREATE TABLE workflows (
    namespace       TEXT    NOT NULL,
    workflow_id     TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    input           TEXT,
    metadata        TEXT,
    -- The step being run (forward) or compensated (backward); NULL once finished.
    current_step    INTEGER,
    idempotency_key TEXT,
    -- Which step's compensation failed, for a human to act on.
    failed_step     INTEGER,
    error           TEXT,
    cancel_requested INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    PRIMARY KEY (namespace, workflow_id),
    CHECK (kind IN ('saga', 'workflow')),
    CHECK (state IN ('running', 'completed', 'compensating', 'compensated', 'compensation_failed', 'cancelled')),
    CHECK ((state IN ('completed', 'compensated', 'compensation_failed', 'cancelled')) = (finished_at IS NOT NULL))
);
CREATE UNIQUE INDEX workflows_idempotency ON workflows (namespace, kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Listings page by id (UUIDv7, so by age) within a namespace, optionally filtered by state or name.
CREATE INDEX workflows_by_state ON workflows (namespace, kind, state, workflow_id);
CREATE INDEX workflows_by_name ON workflows (namespace, kind, name, workflow_id);

-- One row per step and phase: the checkpoint of a code-first workflow, or a saga step's action or
-- compensation. A step run by a job names it, and the job names the step back through workflow_step_jobs.
CREATE TABLE workflow_steps (
    namespace     TEXT    NOT NULL,
    workflow_id   TEXT    NOT NULL,
    step_index    INTEGER NOT NULL,
    phase         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- The step as declared (service, action, compensation, timeout, retry policy, input).
    spec          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    job_id        TEXT,
    attempts      INTEGER NOT NULL,
    output        TEXT,
    errors        TEXT    NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    PRIMARY KEY (namespace, workflow_id, step_index, phase),
    CHECK (phase IN ('action', 'compensation')),
    CHECK (state IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'skipped'))
);

-- The link the job engine follows inside the transaction that finalizes a job: when a linked job completes,
-- fails for good or is cancelled, its workflow advances in that same transaction, exactly once.
CREATE TABLE workflow_step_jobs (
    namespace   TEXT    NOT NULL,
    job_id      TEXT    NOT NULL,
    workflow_id TEXT    NOT NULL,
    step_index  INTEGER NOT NULL,
    phase       TEXT    NOT NULL,
    PRIMARY KEY (namespace, job_id)
);
