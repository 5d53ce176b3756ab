//! Tests only: the PostgreSQL server the crate's own tests run against. It does not create schemas or pools;
//! each test makes what it needs, some in a [`ScratchDatabase`] of their own.

use std::time::Duration;

use baton_core::lock::{AcquireParams, LockId};
use baton_core::namespace::Namespace;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

/// The test server's URL (`BATON_TEST_DATABASE_URL`), or `None` to skip where it is unreachable outside CI;
/// under `CI=true` an unreachable server fails the test.
pub(crate) async fn reachable_url() -> Option<String> {
    let url = std::env::var("BATON_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await {
        Ok(Ok(conn)) => {
            conn.close().await.ok();
            Some(url)
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("CI=true but PostgreSQL at {url} is unreachable")
        }
        _ => {
            eprintln!("SKIPPED: PostgreSQL at {url} is unreachable");
            None
        }
    }
}

/// A database of a test's own on the test server, created empty and dropped by [`ScratchDatabase::drop`] (with
/// its connections).
pub(crate) struct ScratchDatabase {
    admin: PgConnection,
    name: String,
    pub(crate) url: String,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<uuid>` with `options` after `CREATE DATABASE <name>` (a template and locale, say), or
    /// gives `None` where the server is unreachable outside CI.
    pub(crate) async fn create(prefix: &str, options: &str) -> Option<Self> {
        let url = reachable_url().await?;
        let mut admin = PgConnection::connect(&url).await.expect("connect to the test server");
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        admin.execute(AssertSqlSafe(format!("CREATE DATABASE {name} {options}"))).await.expect("create a database");
        let (server, _) = url.rsplit_once('/').expect("the URL names a database");
        let url = format!("{server}/{name}");
        Some(Self { admin, name, url })
    }

    pub(crate) async fn drop(mut self) {
        let drop = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        self.admin.execute(AssertSqlSafe(drop)).await.expect("drop the database");
    }
}

/// A plain acquire of `key` by `owner`: one permit, a minute's TTL, no lease, no wait.
pub(crate) fn acquire_params(key: &str, owner: &str) -> AcquireParams {
    AcquireParams {
        namespace: Namespace::default(),
        key: key.into(),
        lock_id: LockId::new(),
        owner: owner.into(),
        ttl_ms: 60_000,
        permits: 1,
        lease_id: None,
        metadata: None,
        wait_ms: None,
        max_waiters: 10,
    }
}
