-- A row that only a crash removes: PostgreSQL empties an unlogged table on recovery from a crash (and a promoted
-- standby has none of its rows). Lease keepalives commit without waiting for the WAL flush, so a crash may take
-- the last ones back; a connection that finds this table empty gives every lease its full TTL again before it
-- serves anything, as etcd's new leader does (crate::crash_marker).
CREATE UNLOGGED TABLE baton_crash_marker (
    marked_at BIGINT NOT NULL
);
