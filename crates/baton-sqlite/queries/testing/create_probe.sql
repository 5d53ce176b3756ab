-- Tests only: a table for the writer tests.
CREATE TABLE probe (n INTEGER)
