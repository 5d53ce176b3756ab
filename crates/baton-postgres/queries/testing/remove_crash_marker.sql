-- What a crash does to the unlogged marker table.
TRUNCATE baton_crash_marker
