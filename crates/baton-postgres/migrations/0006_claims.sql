-- Claims marked done, which are never granted again. A held claim is a lock on the resource's reserved key
-- (see baton_core::claim), so only the done state needs a table. Every key starts with namespace.
CREATE TABLE claims_done (
    namespace     TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    claim_id      TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    fencing_token BIGINT  NOT NULL,
    acquired_at   BIGINT  NOT NULL,
    done_at       BIGINT  NOT NULL,
    metadata      TEXT,
    PRIMARY KEY (namespace, resource)
);
CREATE INDEX claims_done_owner ON claims_done (namespace, owner);
