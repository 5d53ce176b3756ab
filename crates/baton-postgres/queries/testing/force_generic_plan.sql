-- Tests only: prepared statements on this connection take their generic plan from the first execution, as sqlx's
-- do once PostgreSQL settles on it.
SET plan_cache_mode = force_generic_plan
