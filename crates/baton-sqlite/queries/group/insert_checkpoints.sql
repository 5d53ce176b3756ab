-- One checkpoint at ?4 for each of the group's ?3 partitions.
WITH RECURSIVE partition_numbers(partition_no) AS (
    SELECT 0 UNION ALL SELECT partition_no + 1 FROM partition_numbers WHERE partition_no + 1 < ?3
)
INSERT INTO event_group_checkpoints (namespace, group_name, partition_no, position)
SELECT ?1, ?2, partition_no, ?4 FROM partition_numbers
