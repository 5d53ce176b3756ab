-- Every text column compares and sorts by bytes (COLLATE "C"), as SQLite and the Rust code do. A database made
-- with another default collation (en_US.UTF-8 is common) sorted 'a' before 'B': lists came back in another order
-- than on SQLite, a claims listing merged in Rust skipped claims across pages, and a consumer group, whose members
-- Rust sorts by bytes, gave the same partition to two members. All text columns at once, so that columns compared
-- with each other never differ in collation (PostgreSQL refuses such a comparison). The indexes on them are
-- rebuilt; the rows are not rewritten. A later migration that adds a text column must declare COLLATE "C" (a test
-- checks every column).
DO $$
DECLARE
    text_column RECORD;
BEGIN
    FOR text_column IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns AS c
        JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema()
          AND t.table_type = 'BASE TABLE'
          AND c.data_type = 'text'
          AND c.collation_name IS DISTINCT FROM 'C'
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE TEXT COLLATE "C"',
                       text_column.table_name, text_column.column_name);
    END LOOP;
END
$$;
