-- The cluster's tag cache: one table every node reads and writes, so an invalidation that committed is seen by
-- every node's next read. UNLOGGED: a cache gives up crash safety for speed (PostgreSQL empties the table after
-- a crash), which loses nothing but warm entries. Every key starts with namespace; times are milliseconds.
CREATE UNLOGGED TABLE cache_entries (
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    tags       TEXT[]  NOT NULL,
    size       BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX cache_entries_tags ON cache_entries USING GIN (tags);
CREATE INDEX cache_entries_expires_at ON cache_entries (expires_at) WHERE expires_at IS NOT NULL;
