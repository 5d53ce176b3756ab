-- After a crash, every lease gets at least its full TTL from now: the crash may have taken back keepalives that
-- were answered.
UPDATE leases SET expires_at = GREATEST(expires_at, baton_now_ms() + ttl_ms)
