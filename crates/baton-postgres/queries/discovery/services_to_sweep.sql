-- Services where, as of $1, a passing TTL instance lapsed or a critical one outstayed its deregister_after, up to
-- $2. Each kind is read through its own index (critical_since <= $1 bounds the second, as deregister_after is
-- never negative); one condition with an OR read every instance on every pass.
(SELECT namespace, service FROM service_instances
 WHERE health = 'passing' AND expires_at IS NOT NULL AND expires_at <= $1
 ORDER BY expires_at
 LIMIT $2)
UNION
(SELECT namespace, service FROM service_instances
 WHERE health = 'critical' AND deregister_after_ms IS NOT NULL
   AND critical_since <= $1 AND critical_since + deregister_after_ms <= $1
 ORDER BY critical_since
 LIMIT $2)
LIMIT $2
