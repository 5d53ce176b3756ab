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
];

pub(crate) fn run(conn: &mut Connection) -> Result<(), String> {
    conn.execute_batch(include_str!("../queries/schema/create_migrations_table.sql")).map_err(|e| e.to_string())?;
    for &(version, name, sql) in MIGRATIONS {
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
