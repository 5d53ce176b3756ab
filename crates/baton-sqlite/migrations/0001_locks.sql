-- Locks, their FIFO waiters, and leases. Every key starts with namespace. Times are milliseconds since the
-- Unix epoch. Fencing tokens and waiter order come from baton_counters, so they survive restarts.
CREATE TABLE baton_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO baton_counters (name, value) VALUES ('fencing_token', 0), ('waiter_seq', 0);

CREATE TABLE leases (
    namespace  TEXT    NOT NULL,
    lease_id   TEXT    NOT NULL,
    ttl_ms     INTEGER NOT NULL,
    granted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, lease_id)
);
CREATE INDEX leases_expires_at ON leases (expires_at);

CREATE TABLE locks (
    namespace     TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    lock_id       TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    fencing_token INTEGER NOT NULL,
    permits       INTEGER NOT NULL,
    ttl_ms        INTEGER NOT NULL,
    acquired_at   INTEGER NOT NULL,
    expires_at    INTEGER,
    lease_id      TEXT,
    metadata      TEXT,
    PRIMARY KEY (namespace, key, lock_id),
    CHECK ((expires_at IS NULL) <> (lease_id IS NULL))
);
CREATE INDEX locks_expires_at ON locks (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX locks_lease ON locks (namespace, lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX locks_owner ON locks (namespace, owner);

CREATE TABLE lock_waiters (
    namespace   TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    waiter_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    owner       TEXT    NOT NULL,
    ttl_ms      INTEGER NOT NULL,
    permits     INTEGER NOT NULL,
    lease_id    TEXT,
    metadata    TEXT,
    deadline    INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, key, waiter_id)
);
CREATE INDEX lock_waiters_queue ON lock_waiters (namespace, key, seq);
CREATE INDEX lock_waiters_deadline ON lock_waiters (deadline);
