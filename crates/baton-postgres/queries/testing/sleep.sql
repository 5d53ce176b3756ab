-- Tests only: holds the connection for $1 seconds.
SELECT pg_sleep($1)
