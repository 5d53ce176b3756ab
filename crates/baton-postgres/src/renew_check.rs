//! Tests only: a renew takes its key's lock, so it cannot slip in between another node reading a holder as lapsed
//! and granting the key to someone else.

use std::time::Duration;

use baton_core::Error;
use baton_core::lock::{LockStore as _, RenewParams};
use baton_core::namespace::Namespace;
use sqlx::{Connection as _, PgConnection};

use crate::test_server::{ScratchDatabase, acquire_params};
use crate::tx::advisory_key;
use crate::{PgOptions, PgStore};

#[tokio::test]
async fn a_renew_waits_for_the_key_lock_and_sees_what_its_holder_did() {
    let Some(database) = ScratchDatabase::create("renew", "").await else { return };
    let store = PgStore::connect(PgOptions::new(database.url.clone())).await.unwrap();
    let namespace = Namespace::default();
    let acquire = acquire_params("k", "a");
    let lock_id = acquire.lock_id;
    store.acquire(acquire).await.unwrap();

    // Another node holds the key's lock, as its reaper does while it settles the key.
    let mut other_node = PgConnection::connect(&database.url).await.unwrap();
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
    database.drop().await;
    assert!(waited, "the renew went ahead while another node held the key's lock");
    assert!(matches!(renewed, Err(Error::LockNotHeld { .. })), "{renewed:?}");
}
