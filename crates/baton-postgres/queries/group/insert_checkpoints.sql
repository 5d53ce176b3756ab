-- One checkpoint at $4 for each of the group's $3 partitions.
INSERT INTO event_group_checkpoints (namespace, group_name, partition_no, position)
SELECT $1, $2, partition_no, $4 FROM generate_series(0, $3::BIGINT - 1) AS partition_no
