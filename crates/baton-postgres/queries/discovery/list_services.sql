-- Services with instances, by name after $3, counted by health as of $2, with their modify index.
SELECT i.namespace, i.service, COUNT(*) AS total,
       CAST(SUM(CASE WHEN i.health = 'passing' AND (i.expires_at IS NULL OR i.expires_at > $2) THEN 1 ELSE 0 END) AS BIGINT) AS passing,
       x.modify_index
FROM service_instances AS i
LEFT JOIN service_indexes AS x ON x.namespace = i.namespace AND x.service = i.service
WHERE i.namespace = $1 AND ($3::TEXT IS NULL OR i.service > $3)
GROUP BY i.namespace, i.service, x.modify_index
ORDER BY i.service
LIMIT $4
