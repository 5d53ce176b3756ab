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
        migration(11, "workflow_indexes", include_str!("../migrations/0011_workflow_indexes.sql")),
        migration(12, "locks_without_rowid", include_str!("../migrations/0012_locks_without_rowid.sql")),
        migration(13, "running_job_deadlines", include_str!("../migrations/0013_running_job_deadlines.sql")),
        migration(14, "crash_marker", include_str!("../migrations/0014_crash_marker.sql")),
        migration(15, "text_in_byte_order", include_str!("../migrations/0015_text_in_byte_order.sql")),
    ])
}

use sqlx::SqlSafeStr as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn file_names(dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("a migrations folder")
            .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Migration 11 was once left out of this list, so PostgreSQL never had the workflow indexes.
    #[test]
    fn every_migration_file_is_registered_and_the_versions_match_sqlites() {
        let registered: Vec<String> = migrator()
            .iter()
            .map(|migration| format!("{:04}_{}.sql", migration.version, migration.description))
            .collect();
        let ours = file_names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        assert_eq!(registered, ours);
        assert_eq!(ours, file_names(concat!(env!("CARGO_MANIFEST_DIR"), "/../baton-sqlite/migrations")));
    }
}
