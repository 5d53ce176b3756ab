-- Opens the savepoint of one operation in a batch.
SAVEPOINT operation
