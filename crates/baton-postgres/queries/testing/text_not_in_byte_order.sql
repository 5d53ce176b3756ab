-- Tests only: the text columns of the current schema's tables that do not compare and sort by bytes.
SELECT c.table_name || '.' || c.column_name
FROM information_schema.columns AS c
JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = current_schema()
  AND t.table_type = 'BASE TABLE'
  AND c.data_type = 'text'
  AND c.collation_name IS DISTINCT FROM 'C'
ORDER BY 1
