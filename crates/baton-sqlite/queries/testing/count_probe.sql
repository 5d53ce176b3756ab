-- Tests only.
SELECT count(*) FROM probe
