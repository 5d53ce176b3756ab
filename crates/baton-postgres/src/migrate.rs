//! The embedded migrations. Versions and names match the SQLite backend's one for one.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

pub(crate) fn migrator() -> Migrator {
    let migration = |version: i64, name: &'static str, sql: &'static str| {
        Migration::new(version, Cow::Borrowed(name), MigrationType::Simple, sql.into_sql_str(), false)
    };
    Migrator::with_migrations(vec![
        migration(1, "locks", include_str!("../migrations/0001_locks.sql")),
        migration(2, "jobs", include_str!("../migrations/0002_jobs.sql")),
        migration(3, "schedules", include_str!("../migrations/0003_schedules.sql")),
        migration(4, "job_types", include_str!("../migrations/0004_job_types.sql")),
        migration(5, "events", include_str!("../migrations/0005_events.sql")),
        migration(6, "claims", include_str!("../migrations/0006_claims.sql")),
        migration(7, "discovery", include_str!("../migrations/0007_discovery.sql")),
        migration(8, "cache", include_str!("../migrations/0008_cache.sql")),
        migration(9, "sagas", include_str!("../migrations/0009_sagas.sql")),
        migration(10, "workflows", include_str!("../migrations/0010_workflows.sql")),
    ])
}

use sqlx::SqlSafeStr as _;
