-- Closes the savepoint of one operation, keeping what it wrote (or nothing, after a rollback to it).
RELEASE operation
