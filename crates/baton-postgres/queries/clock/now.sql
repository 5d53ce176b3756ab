-- The database clock, in milliseconds since the Unix epoch: in cluster mode it decides every expiry, so
-- nodes with skewed clocks agree (design.md §4).
SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
