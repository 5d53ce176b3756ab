-- Service discovery: every instance of every service, and each service's modify index. Every key starts with
-- namespace; times are milliseconds; tags, metadata and the check definition are JSON text.
CREATE TABLE service_instances (
    namespace           TEXT    NOT NULL,
    service             TEXT    NOT NULL,
    instance_id         TEXT    NOT NULL,
    address             TEXT    NOT NULL,
    port                BIGINT  NOT NULL,
    tags                TEXT    NOT NULL,
    metadata            TEXT,
    check_kind          TEXT    NOT NULL,
    check_spec          TEXT    NOT NULL,
    deregister_after_ms BIGINT,
    health              TEXT    NOT NULL,
    output              TEXT,
    expires_at          BIGINT,
    critical_since      BIGINT,
    next_check_at       BIGINT,
    checked_by          TEXT,
    registered_at       BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    modify_index        BIGINT  NOT NULL,
    PRIMARY KEY (namespace, service, instance_id)
);
-- The reaper's two questions: whose TTL lapsed, who stayed critical too long.
CREATE INDEX service_instances_expiry ON service_instances (expires_at) WHERE health = 'passing' AND expires_at IS NOT NULL;
CREATE INDEX service_instances_critical ON service_instances (critical_since)
    WHERE health = 'critical' AND deregister_after_ms IS NOT NULL;
-- The prober's question: which checks are due.
CREATE INDEX service_instances_next_check ON service_instances (next_check_at) WHERE next_check_at IS NOT NULL;

-- One row per service ever written: its modify index only grows, so a blocking query never sees it go back,
-- even after the last instance left and the service came back.
CREATE TABLE service_indexes (
    namespace    TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    modify_index BIGINT  NOT NULL,
    PRIMARY KEY (namespace, service)
);
