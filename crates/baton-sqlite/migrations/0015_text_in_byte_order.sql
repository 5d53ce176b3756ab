-- Nothing to change here: on PostgreSQL this version makes every text column compare and sort by bytes
-- (COLLATE "C"). SQLite's default collation, BINARY, already does. The version exists so that both backends'
-- versions match one for one.
SELECT 1;
