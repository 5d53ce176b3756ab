-- The executor holds its run job's row, so no other taker races for the message.
UPDATE workflow_messages SET consumed_at = $4
WHERE namespace = $1 AND workflow_id = $2 AND topic = $3
  AND seq = (SELECT seq FROM workflow_messages
             WHERE namespace = $1 AND workflow_id = $2 AND topic = $3 AND consumed_at IS NULL
             ORDER BY seq LIMIT 1)
RETURNING message
