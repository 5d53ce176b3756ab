-- Nothing to change here: PostgreSQL tables have no rowid. On SQLite this version stores locks and counters in
-- their primary key alone; it exists here so that both backends' versions match one for one.
SELECT 1;
