//! Tests only: text sorts by bytes on every database, as on SQLite and in the Rust code, whatever the database's
//! default collation (migration 15).

use baton_core::lock::{AcquireParams, ListLocksParams, LockId, LockStore as _};
use baton_core::namespace::Namespace;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};

use crate::test_server::reachable_url;
use crate::{PgOptions, PgStore};

fn acquire(key: &str) -> AcquireParams {
    AcquireParams {
        namespace: Namespace::default(),
        key: key.into(),
        lock_id: LockId::new(),
        owner: "o".into(),
        ttl_ms: 60_000,
        permits: 1,
        lease_id: None,
        metadata: None,
        wait_ms: None,
        max_waiters: 0,
    }
}

/// On a database whose default collation is ICU's English, which puts 'a' before 'B', the locks still list in
/// byte order ('B' is 0x42, 'a' 0x61), and no text column is left on the default collation.
#[tokio::test]
async fn text_sorts_by_bytes_on_a_database_whose_default_collation_does_not() {
    let Some(url) = reachable_url().await else { return };
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let name = format!("collation_{}", uuid::Uuid::now_v7().simple());
    let create = format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
    admin.execute(AssertSqlSafe(create)).await.unwrap();
    let (server, _) = url.rsplit_once('/').expect("the URL names a database");
    let store = PgStore::connect(PgOptions::new(format!("{server}/{name}"))).await.unwrap();
    for key in ["a", "B"] {
        store.acquire(acquire(key)).await.unwrap();
    }
    let listing =
        ListLocksParams { namespace: Namespace::default(), owner: None, prefix: None, after: None, limit: 10 };
    let keys: Vec<String> = store.list(listing).await.unwrap().items.into_iter().map(|holder| holder.key).collect();
    let mut conn = store.conns.pool().acquire().await.unwrap();
    let unsorted: Vec<String> = sqlx::query_scalar(include_str!("../queries/testing/text_not_in_byte_order.sql"))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    store.close().await;
    admin.execute(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).await.unwrap();
    assert_eq!(keys, ["B", "a"]);
    assert!(unsorted.is_empty(), "text columns on the database's collation: {unsorted:?}");
}
