-- Nothing to change here: on PostgreSQL this version adds the unlogged table that tells a connection a crash
-- happened (lease keepalives commit without waiting for the disk there). SQLite's writer gives every lease its
-- full TTL again on each start instead. The version exists so that both backends' versions match one for one.
SELECT 1;
