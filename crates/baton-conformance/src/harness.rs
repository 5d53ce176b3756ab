//! Fresh stores for tests: a SQLite file in a temporary directory, or a new schema (or database) on the
//! PostgreSQL named by `BATON_TEST_DATABASE_URL` (default: the local server).
//!
//! **Invariant:** under `CI=true` an unreachable PostgreSQL fails the test; elsewhere it is skipped with a
//! message on stderr.

use std::sync::Arc;
use std::time::Duration;

use baton_core::cache::{CacheBounds, CacheStore, MemoryCache};
use baton_core::clock::{Clock as _, ManualClock, Timestamp};
use baton_core::store::Store;
use baton_postgres::{PgOptions, PgStore};
use baton_sqlite::{SqliteOptions, SqliteStore};
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};

pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A store plus the manual clock that decides its expiries.
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    cleanup: Cleanup,
}

/// Bounds large enough that no conformance case evicts by accident.
pub const ROOMY: CacheBounds = CacheBounds { max_entries: 100_000, max_bytes: 64 * 1024 * 1024 };

enum Cleanup {
    TempDir(#[allow(dead_code)] tempfile::TempDir),
    PgSchema { store: PgStore, schema: String },
}

impl Harness {
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The cache this backend's deployment uses: moka in process beside SQLite, the shared table on PostgreSQL.
    /// Memory caches are built with `bounds`; the shared table is bounded by `trim_cache`'s.
    pub fn cache(&self, bounds: CacheBounds) -> Arc<dyn CacheStore> {
        match &self.cleanup {
            Cleanup::TempDir(_) => Arc::new(MemoryCache::new(bounds, self.clock.clone())),
            Cleanup::PgSchema { store, .. } => Arc::new(store.clone()),
        }
    }

    /// Another store on the same data, as a second cluster node would open it (sharing the manual clock).
    /// `None` for SQLite, which one server owns.
    pub async fn another_node(&self) -> Option<Arc<dyn Store>> {
        let Cleanup::PgSchema { schema, .. } = &self.cleanup else { return None };
        let store = PgStore::connect(pg_options(schema, self.clock.clone())).await.expect("connect postgres");
        Some(Arc::new(store))
    }

    pub async fn cleanup(self) {
        if let Cleanup::PgSchema { store, schema } = self.cleanup {
            store.close().await;
            if let Some(mut conn) = admin_connection().await {
                let _ = conn.execute(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).await;
            }
        }
    }
}

fn start_clock() -> Arc<ManualClock> {
    // A fixed, realistic start keeps timestamps readable in failures.
    Arc::new(ManualClock::new(Timestamp(1_767_225_600_000)))
}

pub async fn sqlite() -> Option<Harness> {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = start_clock();
    let store = SqliteStore::open(SqliteOptions::new(dir.path()), clock.clone()).await.expect("open sqlite");
    Some(Harness { store: Arc::new(store), clock, cleanup: Cleanup::TempDir(dir) })
}

pub async fn postgres() -> Option<Harness> {
    let mut admin = admin_connection().await?;
    let schema = format!("conformance_{}", uuid::Uuid::now_v7().simple());
    admin.execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).await.expect("create schema");
    let clock = start_clock();
    let store = PgStore::connect(pg_options(&schema, clock.clone())).await.expect("connect postgres");
    Some(Harness { store: Arc::new(store.clone()), clock, cleanup: Cleanup::PgSchema { store, schema } })
}

fn pg_options(schema: &str, clock: Arc<ManualClock>) -> PgOptions {
    PgOptions {
        schema: Some(schema.to_owned()),
        clock: Some(clock),
        max_connections: 8,
        ..PgOptions::new(test_database_url())
    }
}

pub fn test_database_url() -> String {
    std::env::var("BATON_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Connects to the test server, or decides what an unreachable one means: a failure in CI, a skip elsewhere.
pub async fn admin_connection() -> Option<PgConnection> {
    let url = test_database_url();
    match PgConnection::connect(&url).await {
        Ok(conn) => Some(conn),
        Err(error) if running_in_ci() => {
            panic!("CI=true but PostgreSQL at {url} is unreachable: {error}")
        }
        Err(error) => {
            eprintln!("SKIPPED: PostgreSQL at {url} is unreachable ({error}); set BATON_TEST_DATABASE_URL");
            None
        }
    }
}

/// An empty database for a test that runs whole servers; drop it with [`TestDatabase::remove`] at the end.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// Runs `sql` in the database, behind the back of the servers that use it.
    pub async fn execute(&self, sql: &str) {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect to the test database");
        conn.execute(AssertSqlSafe(sql.to_owned())).await.expect("run the statement");
    }

    /// Drops the database, closing the connections of servers that may still hold it.
    pub async fn remove(self) {
        if let Some(mut admin) = admin_connection().await {
            let _ = admin.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))).await;
        }
    }
}

/// Creates an empty database, or returns `None` when PostgreSQL is unreachable outside CI.
pub async fn fresh_database() -> Option<TestDatabase> {
    let mut admin = admin_connection().await?;
    let name = format!("baton_test_{}", uuid::Uuid::now_v7().simple());
    admin.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create database");
    let base = test_database_url();
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    Some(TestDatabase { url: format!("{prefix}/{name}"), name })
}
