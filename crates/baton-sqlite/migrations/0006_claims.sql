-- Claims marked done, which are never granted again. A held claim is a lock on the resource's reserved key
-- (see baton_core::claim), so only the done state needs a table. Every key starts with namespace.
CREATE TABLE claims_done (
    namespace     TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    claim_id      TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    fencing_token INTEGER NOT NULL,
    acquired_at   INTEGER NOT NULL,
    done_at       INTEGER NOT NULL,
    metadata      TEXT,
    PRIMARY KEY (namespace, resource)
) WITHOUT ROWID;
CREATE INDEX claims_done_owner ON claims_done (namespace, owner);
