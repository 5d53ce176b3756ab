UPDATE workflow_messages SET consumed_at = ?4
WHERE namespace = ?1 AND workflow_id = ?2 AND topic = ?3
  AND seq = (SELECT MIN(seq) FROM workflow_messages
             WHERE namespace = ?1 AND workflow_id = ?2 AND topic = ?3 AND consumed_at IS NULL)
RETURNING message
