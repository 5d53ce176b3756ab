INSERT INTO baton_crash_marker (marked_at) VALUES (baton_now_ms())
