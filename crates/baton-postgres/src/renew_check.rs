//! Tests only: a renew takes its key's lock, so it cannot slip in between another node reading a holder as lapsed
//! and granting the key to someone else.

use std::time::Duration;

use baton_core::Error;
use baton_core::lock::{AcquireParams, LockId, LockStore as _, RenewParams};
use baton_core::namespace::Namespace;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, PgConnection};

use crate::test_server::reachable_url;
use crate::tx::advisory_key;
use crate::{PgOptions, PgStore};

#[tokio::test]
async fn a_renew_waits_for_the_key_lock_and_sees_what_its_holder_did() {
    let Some(url) = reachable_url().await else { return };
    let mut admin = PgConnection::connect(&url).await.unwrap();
    let name = format!("renew_{}", uuid::Uuid::now_v7().simple());
    admin.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    let (server, _) = url.rsplit_once('/').expect("the URL names a database");
    let database = format!("{server}/{name}");
    let store = PgStore::connect(PgOptions::new(database.clone())).await.unwrap();
    let namespace = Namespace::default();
    let lock_id = LockId::new();
    let acquire = AcquireParams {
        namespace: namespace.clone(),
        key: "k".into(),
        lock_id,
        owner: "a".into(),
        ttl_ms: 60_000,
        permits: 1,
        lease_id: None,
        metadata: None,
        wait_ms: None,
        max_waiters: 0,
    };
    store.acquire(acquire).await.unwrap();

    // Another node holds the key's lock, as its reaper does while it settles the key.
    let mut other_node = PgConnection::connect(&database).await.unwrap();
    let mut settling = other_node.begin().await.unwrap();
    sqlx::query(include_str!("../queries/testing/hold_key_lock.sql"))
        .bind(advisory_key(&namespace, "k"))
        .execute(&mut *settling)
        .await
        .unwrap();
    let renewing = {
        let store = store.clone();
        let params =
            RenewParams { namespace: namespace.clone(), key: "k".into(), lock_id, owner: "a".into(), ttl_ms: None };
        tokio::spawn(async move { store.renew(params).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = !renewing.is_finished();
    // The reaper found the holder lapsed and removes it (and would grant the key to a waiter) before it commits.
    sqlx::query(include_str!("../queries/testing/delete_key_holders.sql"))
        .bind(namespace.as_str())
        .bind("k")
        .execute(&mut *settling)
        .await
        .unwrap();
    settling.commit().await.unwrap();
    let renewed = renewing.await.unwrap();

    drop(other_node);
    store.close().await;
    admin.execute(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).await.unwrap();
    assert!(waited, "the renew went ahead while another node held the key's lock");
    assert!(matches!(renewed, Err(Error::LockNotHeld { .. })), "{renewed:?}");
}
