-- Services where, as of $1, a passing TTL instance lapsed or a critical one outstayed its deregister_after.
SELECT DISTINCT namespace, service
FROM service_instances
WHERE (health = 'passing' AND expires_at IS NOT NULL AND expires_at <= $1)
   OR (health = 'critical' AND deregister_after_ms IS NOT NULL AND critical_since + deregister_after_ms <= $1)
LIMIT $2
