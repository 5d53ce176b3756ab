-- The counter ?1's value.
SELECT value FROM baton_counters WHERE name = ?1
