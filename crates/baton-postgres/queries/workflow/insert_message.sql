INSERT INTO workflow_messages (namespace, workflow_id, topic, message, sent_at, consumed_at)
VALUES ($1, $2, $3, $4, $5, NULL)
