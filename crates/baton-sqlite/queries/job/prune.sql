-- Deletes up to ?2 jobs finalized before ?1.
DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE finalized_at < ?1 LIMIT ?2)
