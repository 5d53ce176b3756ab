-- Tests only: refused once locks is a WITHOUT ROWID table.
SELECT rowid FROM locks
