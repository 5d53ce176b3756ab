-- Jobs whose latest attempt started after ?3: what a rate limit counts.
SELECT count(*) FROM jobs WHERE namespace = ?1 AND queue = ?2 AND attempted_at > ?3
