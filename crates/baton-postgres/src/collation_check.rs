//! Tests only: text sorts by bytes on every database, as on SQLite and in the Rust code, whatever the database's
//! default collation (migration 15).

use baton_core::lock::{ListLocksParams, LockStore as _};
use baton_core::namespace::Namespace;

use crate::test_server::{ScratchDatabase, acquire_params};
use crate::{PgOptions, PgStore};

/// On a database whose default collation is ICU's English, which puts 'a' before 'B', the locks still list in
/// byte order ('B' is 0x42, 'a' 0x61), and no text column is left on the default collation.
#[tokio::test]
async fn text_sorts_by_bytes_on_a_database_whose_default_collation_does_not() {
    let icu_english = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'";
    let Some(database) = ScratchDatabase::create("collation", icu_english).await else { return };
    let store = PgStore::connect(PgOptions::new(database.url.clone())).await.unwrap();
    for key in ["a", "B"] {
        store.acquire(acquire_params(key, "o")).await.unwrap();
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
    database.drop().await;
    assert_eq!(keys, ["B", "a"]);
    assert!(unsorted.is_empty(), "text columns on the database's collation: {unsorted:?}");
}
