DELETE FROM cache_entries WHERE expires_at <= COALESCE($1::BIGINT, baton_now_ms())
