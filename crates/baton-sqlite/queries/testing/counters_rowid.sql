-- Tests only: refused once baton_counters is a WITHOUT ROWID table.
SELECT rowid FROM baton_counters
