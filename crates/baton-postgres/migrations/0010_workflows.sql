-- Code-first durable workflows in the saga tables (kind = 'workflow'). A run is a job of the workflow's queue,
-- named by workflows.job_id; each ctx.step is a workflow_steps row (phase 'action') written once.
ALTER TABLE workflows
    -- The workflow function's return value.
    ADD COLUMN output TEXT,
    -- Queue, priority and timeout, as started (JSON).
    ADD COLUMN options TEXT,
    -- The workflow that started this one as a child.
    ADD COLUMN parent_id TEXT,
    -- The job of the current run: its lease fences the executor's checkpoints.
    ADD COLUMN job_id TEXT,
    DROP CONSTRAINT workflows_state_check,
    DROP CONSTRAINT workflows_check,
    ADD CONSTRAINT workflows_state_check CHECK (state IN ('running', 'completed', 'failed', 'compensating',
        'compensated', 'compensation_failed', 'cancelled')),
    ADD CONSTRAINT workflows_finished_check CHECK ((state IN ('completed', 'failed', 'compensated',
        'compensation_failed', 'cancelled')) = (finished_at IS NOT NULL));
CREATE INDEX workflows_by_job ON workflows (namespace, job_id) WHERE job_id IS NOT NULL;

-- Messages sent to a workflow (ctx.send, or POST .../messages), taken once by the step that receives them. The
-- identity orders messages without two senders racing for a number.
CREATE TABLE workflow_messages (
    namespace   TEXT    NOT NULL,
    workflow_id TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY,
    message     TEXT    NOT NULL,
    sent_at     BIGINT  NOT NULL,
    consumed_at BIGINT,
    PRIMARY KEY (namespace, workflow_id, topic, seq)
);

-- Key-value events a workflow publishes (ctx.set_event); the latest value of a key wins.
CREATE TABLE workflow_events (
    namespace   TEXT    NOT NULL,
    workflow_id TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    set_at      BIGINT  NOT NULL,
    PRIMARY KEY (namespace, workflow_id, key)
);
