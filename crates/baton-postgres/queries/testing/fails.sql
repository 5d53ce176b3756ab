-- Tests only: a statement the server refuses.
SELECT no_such_column
