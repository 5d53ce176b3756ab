-- The event store: one ordered log per namespace, split into streams, and consumer groups over it. Every key
-- starts with namespace. Times are milliseconds since the Unix epoch; event data and metadata are the JSON text
-- clients sent.
CREATE TABLE event_streams (
    namespace        TEXT    NOT NULL,
    -- '$all' is the log itself: its last_version is the namespace's last global position.
    stream           TEXT    NOT NULL,
    stream_hash      INTEGER NOT NULL,
    last_version     INTEGER NOT NULL,
    -- Versions below are unreadable; versions below pruned_before are already deleted.
    truncate_before  INTEGER NOT NULL,
    pruned_before    INTEGER NOT NULL DEFAULT 0,
    max_count        INTEGER,
    max_age_ms       INTEGER,
    metadata         TEXT,
    created_at       INTEGER NOT NULL,
    last_appended_at INTEGER,
    deleted_at       INTEGER,
    PRIMARY KEY (namespace, stream)
) WITHOUT ROWID;
-- A consumer group member's streams are a range of hashes.
CREATE INDEX event_streams_hash ON event_streams (namespace, stream_hash);
-- What the pruner visits: streams with unreadable events still stored, and streams that age out events.
CREATE INDEX event_streams_to_prune ON event_streams (namespace, stream) WHERE truncate_before > pruned_before;
CREATE INDEX event_streams_aging ON event_streams (namespace, stream) WHERE max_age_ms IS NOT NULL;

CREATE TABLE events (
    namespace       TEXT    NOT NULL,
    global_position INTEGER NOT NULL,
    stream          TEXT    NOT NULL,
    stream_hash     INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    metadata        TEXT,
    recorded_at     INTEGER NOT NULL,
    PRIMARY KEY (namespace, global_position)
);
CREATE UNIQUE INDEX events_stream_version ON events (namespace, stream, version);
-- Finds a resent event by its client-chosen id.
CREATE INDEX events_event_id ON events (namespace, event_id);

CREATE TABLE event_groups (
    namespace     TEXT    NOT NULL,
    group_name    TEXT    NOT NULL,
    partitions    INTEGER NOT NULL,
    stream_prefix TEXT,
    event_type    TEXT,
    start_from    TEXT    NOT NULL,
    generation    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (namespace, group_name),
    CHECK (start_from IN ('beginning', 'end'))
);

CREATE TABLE event_group_members (
    namespace  TEXT    NOT NULL,
    group_name TEXT    NOT NULL,
    member_id  TEXT    NOT NULL,
    ttl_ms     INTEGER NOT NULL,
    joined_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, group_name, member_id)
);
CREATE INDEX event_group_members_expires_at ON event_group_members (expires_at);

-- Per partition, the last position the group has processed.
CREATE TABLE event_group_checkpoints (
    namespace    TEXT    NOT NULL,
    group_name   TEXT    NOT NULL,
    partition_no INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (namespace, group_name, partition_no)
);
