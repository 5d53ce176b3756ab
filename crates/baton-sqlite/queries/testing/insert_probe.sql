-- Tests only.
INSERT INTO probe VALUES (1)
