//! Tests only: a keepalive that commits while another node expires its lease's locks never leaves the lease alive
//! and its lock granted to someone else.

use std::sync::Arc;
use std::time::Duration;

use baton_core::clock::{Clock, ManualClock, Timestamp};
use baton_core::lease::LeaseStore as _;
use baton_core::lock::{AcquireOutcome, AcquireParams, LeaseId, LockStore as _};
use baton_core::namespace::Namespace;
use sqlx::{Connection as _, PgConnection};

use crate::test_server::{ScratchDatabase, acquire_params};
use crate::{PgOptions, PgStore};

fn acquire(owner: &str, lease_id: Option<LeaseId>, wait_ms: Option<i64>) -> AcquireParams {
    AcquireParams { lease_id, wait_ms, ..acquire_params("k", owner) }
}

#[tokio::test]
async fn a_lock_whose_lease_is_being_kept_alive_is_not_expired_under_it() {
    let Some(database) = ScratchDatabase::create("lease", "").await else { return };
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let options = PgOptions { clock: Some(clock.clone()), ..PgOptions::new(database.url.clone()) };
    let store = PgStore::connect(options).await.unwrap();
    let namespace = Namespace::default();
    let lease_id = LeaseId::new();
    store.grant_lease(&namespace, lease_id, 10_000).await.unwrap();
    assert!(matches!(
        store.acquire(acquire("holder", Some(lease_id), None)).await.unwrap(),
        AcquireOutcome::Granted(_)
    ));
    let queued = store.acquire(acquire("waiter", None, Some(600_000))).await.unwrap();
    assert!(matches!(queued, AcquireOutcome::Queued { .. }), "{queued:?}");
    clock.advance(Duration::from_secs(11));

    // A keepalive of the lease, on another node, is committing: the lease's row is locked and moved on.
    let mut other_node = PgConnection::connect(&database.url).await.unwrap();
    let mut keepalive = other_node.begin().await.unwrap();
    sqlx::query(include_str!("../queries/testing/keep_lease_alive.sql"))
        .bind(namespace.as_str())
        .bind(lease_id.to_string())
        .bind(clock.now().as_millis() + 10_000)
        .execute(&mut *keepalive)
        .await
        .unwrap();
    // The expiry pass leaves the lease's holder alone; at its end it waits to delete lapsed leases, this one
    // included, until the keepalive commits, and then finds it alive.
    let expiring = {
        let store = store.clone();
        tokio::spawn(async move { store.expire_due(100).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    keepalive.commit().await.unwrap();
    let report = expiring.await.unwrap().unwrap();

    let status = store.status(&namespace, "k").await.unwrap();
    let holders: Vec<&str> = status.holders.iter().map(|holder| holder.owner.as_str()).collect();
    drop(other_node);
    store.close().await;
    database.drop().await;
    assert_eq!(report.waiters_granted, 0, "{report:?}");
    assert_eq!((holders, status.waiters), (vec!["holder"], 1), "the lease lives on, and its lock with it");
}
