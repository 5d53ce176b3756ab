-- Tests only: which server process serves this connection.
SELECT pg_backend_pid()
