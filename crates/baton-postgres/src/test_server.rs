//! Tests only: the PostgreSQL server the crate's own tests run against. It does not create schemas or pools;
//! each test makes what it needs.

use std::time::Duration;

use sqlx::{Connection as _, PgConnection};

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
