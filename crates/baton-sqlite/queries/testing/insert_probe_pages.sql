-- Tests only: fills about ?1 pages of the probe table (one 4 KiB blob a row), so the WAL holds that many.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
INSERT INTO probe SELECT zeroblob(4000) FROM n
