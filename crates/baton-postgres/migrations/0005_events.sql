-- The event store: one ordered log per namespace, split into streams, and consumer groups over it. Every key
-- starts with namespace. Times are milliseconds since the Unix epoch; event data and metadata are the JSON text
-- clients sent. Global positions are drawn under the log's advisory lock and committed in that order, so no
-- sequence is needed (a sequence would commit out of order).
CREATE TABLE event_streams (
    namespace        TEXT    NOT NULL,
    -- '$all' is the log itself: its last_version is the namespace's last global position.
    stream           TEXT    NOT NULL,
    stream_hash      BIGINT  NOT NULL,
    last_version     BIGINT  NOT NULL,
    -- Versions below are unreadable; versions below pruned_before are already deleted.
    truncate_before  BIGINT  NOT NULL,
    pruned_before    BIGINT  NOT NULL DEFAULT 0,
    max_count        BIGINT,
    max_age_ms       BIGINT,
    metadata         TEXT,
    created_at       BIGINT  NOT NULL,
    last_appended_at BIGINT,
    deleted_at       BIGINT,
    PRIMARY KEY (namespace, stream)
);
-- A consumer group member's streams are a range of hashes.
CREATE INDEX event_streams_hash ON event_streams (namespace, stream_hash);
-- What the pruner visits: streams with unreadable events still stored, and streams that age out events.
CREATE INDEX event_streams_to_prune ON event_streams (namespace, stream) WHERE truncate_before > pruned_before;
CREATE INDEX event_streams_aging ON event_streams (namespace, stream) WHERE max_age_ms IS NOT NULL;

CREATE TABLE events (
    namespace       TEXT    NOT NULL,
    global_position BIGINT  NOT NULL,
    stream          TEXT    NOT NULL,
    stream_hash     BIGINT  NOT NULL,
    version         BIGINT  NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    metadata        TEXT,
    recorded_at     BIGINT  NOT NULL,
    PRIMARY KEY (namespace, global_position)
);
CREATE UNIQUE INDEX events_stream_version ON events (namespace, stream, version);
-- Finds a resent event by its client-chosen id.
CREATE INDEX events_event_id ON events (namespace, event_id);

CREATE TABLE event_groups (
    namespace     TEXT    NOT NULL,
    group_name    TEXT    NOT NULL,
    partitions    BIGINT  NOT NULL,
    stream_prefix TEXT,
    event_type    TEXT,
    start_from    TEXT    NOT NULL,
    generation    BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (namespace, group_name),
    CHECK (start_from IN ('beginning', 'end'))
);

CREATE TABLE event_group_members (
    namespace  TEXT    NOT NULL,
    group_name TEXT    NOT NULL,
    member_id  TEXT    NOT NULL,
    ttl_ms     BIGINT  NOT NULL,
    joined_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (namespace, group_name, member_id)
);
CREATE INDEX event_group_members_expires_at ON event_group_members (expires_at);

-- Per partition, the last position the group has processed.
CREATE TABLE event_group_checkpoints (
    namespace    TEXT    NOT NULL,
    group_name   TEXT    NOT NULL,
    partition_no BIGINT  NOT NULL,
    position     BIGINT  NOT NULL,
    PRIMARY KEY (namespace, group_name, partition_no)
);
