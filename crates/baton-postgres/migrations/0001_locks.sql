-- Locks, their FIFO waiters, and leases. Every key starts with namespace. Times are milliseconds since the
-- Unix epoch. Fencing tokens and waiter order come from sequences, so they survive restarts and are shared
-- by every node.
CREATE SEQUENCE baton_fencing_token;
CREATE SEQUENCE baton_waiter_seq;

-- The database clock in milliseconds since the Unix epoch: in cluster mode it decides every expiry, so nodes
-- with skewed clocks agree (design.md §4).
CREATE FUNCTION baton_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE
    AS $$ SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT $$;

CREATE TABLE leases (
    namespace  TEXT    NOT NULL,
    lease_id   TEXT    NOT NULL,
    ttl_ms     BIGINT NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, lease_id)
);
CREATE INDEX leases_expires_at ON leases (expires_at);

CREATE TABLE locks (
    namespace     TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    lock_id       TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    fencing_token BIGINT NOT NULL,
    permits       BIGINT NOT NULL,
    ttl_ms        BIGINT NOT NULL,
    acquired_at   BIGINT NOT NULL,
    expires_at    BIGINT,
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
    seq         BIGINT NOT NULL,
    owner       TEXT    NOT NULL,
    ttl_ms      BIGINT NOT NULL,
    permits     BIGINT NOT NULL,
    lease_id    TEXT,
    metadata    TEXT,
    deadline    BIGINT NOT NULL,
    enqueued_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key, waiter_id)
);
CREATE INDEX lock_waiters_queue ON lock_waiters (namespace, key, seq);
CREATE INDEX lock_waiters_deadline ON lock_waiters (deadline);
