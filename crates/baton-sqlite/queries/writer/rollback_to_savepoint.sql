-- Undoes what a failed operation wrote; the savepoint stays open until released.
ROLLBACK TO operation
