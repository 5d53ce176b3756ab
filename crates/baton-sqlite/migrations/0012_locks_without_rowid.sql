-- Locks and the counters stored in their primary key alone (WITHOUT ROWID): a grant or a release writes one
-- b-tree fewer, and a fencing token is read and bumped without going from the key's index to a row. Their rows
-- are small (the rule of thumb is under a twentieth of a page).
CREATE TABLE locks_by_key (
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
) WITHOUT ROWID;
INSERT INTO locks_by_key
SELECT namespace, key, lock_id, owner, fencing_token, permits, ttl_ms, acquired_at, expires_at, lease_id, metadata
FROM locks;
DROP TABLE locks;
ALTER TABLE locks_by_key RENAME TO locks;
CREATE INDEX locks_expires_at ON locks (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX locks_lease ON locks (namespace, lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX locks_owner ON locks (namespace, owner);

CREATE TABLE baton_counters_by_name (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO baton_counters_by_name SELECT name, value FROM baton_counters;
DROP TABLE baton_counters;
ALTER TABLE baton_counters_by_name RENAME TO baton_counters;
