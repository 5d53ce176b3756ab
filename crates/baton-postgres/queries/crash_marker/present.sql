-- Whether the crash marker is there: if not, the server crashed (or this database is new) since it was set.
SELECT EXISTS (SELECT 1 FROM baton_crash_marker)
