-- Evicts the oldest entries until the newest fit both bounds: at most $1 entries and $2 bytes.
DELETE FROM cache_entries WHERE (namespace, key) IN (
    SELECT namespace, key FROM (
        SELECT namespace, key,
               row_number() OVER (ORDER BY created_at DESC, key) AS newer_entries,
               sum(size) OVER (ORDER BY created_at DESC, key) AS newer_bytes
        FROM cache_entries
    ) ranked
    WHERE newer_entries > $1 OR newer_bytes > $2
)
