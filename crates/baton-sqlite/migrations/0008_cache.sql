-- The embedded tag cache lives in memory (moka), not in the data file: nothing to create. The version exists so
-- both backends keep the same migration numbers.
SELECT 1;
