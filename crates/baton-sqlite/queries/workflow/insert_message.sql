-- The single writer makes max + 1 safe here.
INSERT INTO workflow_messages (namespace, workflow_id, topic, seq, message, sent_at, consumed_at)
VALUES (?1, ?2, ?3,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM workflow_messages WHERE namespace = ?1 AND workflow_id = ?2 AND topic = ?3),
    ?4, ?5, NULL)
