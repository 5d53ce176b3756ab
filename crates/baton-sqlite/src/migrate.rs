//! The embedded migrations. Versions and names match the PostgreSQL backend's one for one; each applied
//! version is recorded with its checksum, so an edited migration is refused rather than silently skipped.

use rusqlite::{Connection, OptionalExtension as _, params};

/// `(version, name, sql)`, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "locks", include_str!("../migrations/0001_locks.sql")),
    (2, "jobs", include_str!("../migrations/0002_jobs.sql")),
    (3, "schedules", include_str!("../migrations/0003_schedules.sql")),
    (4, "job_types", include_str!("../migrations/0004_job_types.sql")),
    (5, "events", include_str!("../migrations/0005_events.sql")),
    (6, "claims", include_str!("../migrations/0006_claims.sql")),
    (7, "discovery", include_str!("../migrations/0007_discovery.sql")),
    (8, "cache", include_str!("../migrations/0008_cache.sql")),
    (9, "sagas", include_str!("../migrations/0009_sagas.sql")),
    (10, "workflows", include_str!("../migrations/0010_workflows.sql")),
    (11, "workflow_indexes", include_str!("../migrations/0011_workflow_indexes.sql")),
    (12, "locks_without_rowid", include_str!("../migrations/0012_locks_without_rowid.sql")),
    (13, "running_job_deadlines", include_str!("../migrations/0013_running_job_deadlines.sql")),
    (14, "crash_marker", include_str!("../migrations/0014_crash_marker.sql")),
    (15, "text_in_byte_order", include_str!("../migrations/0015_text_in_byte_order.sql")),
];

pub(crate) fn run(conn: &mut Connection) -> Result<(), String> {
    run_these(conn, MIGRATIONS)
}

fn run_these(conn: &mut Connection, migrations: &[(i64, &str, &str)]) -> Result<(), String> {
    conn.execute_batch(include_str!("../queries/schema/create_migrations_table.sql")).map_err(|e| e.to_string())?;
    for &(version, name, sql) in migrations {
        let checksum = checksum(sql);
        let applied: Option<String> = conn
            .query_row(include_str!("../queries/schema/applied_migration.sql"), [version], |row| row.get(0))
            .optional()
            .map_err(|e| e.to_string())?;
        match applied {
            Some(found) if found == checksum => continue,
            Some(_) => return Err(format!("migration {version} ({name}) changed after it was applied")),
            None => {}
        }
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(sql).map_err(|e| format!("migration {version} ({name}) failed: {e}"))?;
        tx.execute(include_str!("../queries/schema/record_migration.sql"), params![version, name, checksum])
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// FNV-1a over the migration text: enough to notice an edit, not a security measure.
fn checksum(sql: &str) -> String {
    let hash = sql
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_names(dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("the migrations folder")
            .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_migration_file_is_registered_under_its_version_and_name() {
        let registered: Vec<String> =
            MIGRATIONS.iter().map(|(version, name, _)| format!("{version:04}_{name}.sql")).collect();
        assert_eq!(registered, file_names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")));
    }

    /// Migration 12 rebuilds `locks` and `baton_counters`: a database made before it keeps its locks, and its
    /// fencing tokens go on rising from where they were.
    #[test]
    fn an_upgrade_to_locks_without_rowid_keeps_locks_and_counters() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut conn = Connection::open(dir.path().join("upgrade.db")).expect("open");
        run_these(&mut conn, &MIGRATIONS[..11]).expect("migrations 1 to 11");
        conn.execute_batch(include_str!("../queries/testing/seed_lock_before_0012.sql")).expect("a lock and its token");
        run(&mut conn).expect("migration 12");
        let lock: (String, i64, Option<String>) = conn
            .query_row(include_str!("../queries/testing/seeded_lock.sql"), [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .expect("the lock is still there");
        assert_eq!(lock, ("o".to_owned(), 41, Some(r#"{"a":1}"#.to_owned())));
        conn.execute(include_str!("../queries/lock/bump_counter.sql"), ["fencing_token"]).expect("the next token");
        let next: i64 = conn
            .query_row(include_str!("../queries/lock/counter.sql"), ["fencing_token"], |row| row.get(0))
            .expect("the next token");
        assert_eq!(next, 42);
        for (table, rowid) in [
            ("locks", include_str!("../queries/testing/locks_rowid.sql")),
            ("baton_counters", include_str!("../queries/testing/counters_rowid.sql")),
        ] {
            assert!(conn.prepare(rowid).is_err(), "{table} has no rowid any more");
        }
    }
}
