//! Two `baton serve` nodes on one PostgreSQL database behave as one service.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baton_api::lock::AcquireLockRequest;
use baton_conformance::harness::TestDatabase;
use futures::FutureExt as _;

use crate::server::{Server, eventually};

/// Two nodes on a fresh database, which the test removes when it is done with them.
async fn two_nodes() -> Option<(Server, Server, TestDatabase)> {
    let database = baton_conformance::harness::fresh_database().await?;
    let a = Server::cluster(&database.url);
    let b = Server::cluster(&database.url);
    Some((a, b, database))
}

fn request(key: &str, owner: &str) -> AcquireLockRequest {
    AcquireLockRequest { key: key.into(), owner: owner.into(), ttl_seconds: 30, ..AcquireLockRequest::default() }
}

#[tokio::test]
async fn a_release_on_one_node_wakes_a_waiter_on_the_other() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    let (a, b) = (node_a.client(), node_b.client());
    let held = a.acquire_lock(request("k", "on-a")).await.unwrap();
    let waiter = tokio::spawn({
        let b = b.clone();
        async move {
            let grant =
                b.acquire_lock(AcquireLockRequest { wait_timeout_seconds: Some(20), ..request("k", "on-b") }).await;
            (grant, Instant::now())
        }
    });
    eventually("the waiter on B queues", || b.lock_status("k").map(|s| s.is_ok_and(|s| s.waiters == 1))).await;
    a.release_lock("k", &held.lock_id, "on-a").await.unwrap();
    let released_at = Instant::now();
    let (grant, granted_at) = waiter.await.unwrap();
    let grant = grant.unwrap();
    assert_eq!(grant.owner, "on-b");
    assert!(grant.fencing_token > held.fencing_token);
    // Far below the one-second safety poll: the wake-up crossed nodes through NOTIFY.
    let hand_off = granted_at.duration_since(released_at);
    eprintln!("cross-node hand-off, measured from the release's answer: {hand_off:?}");
    assert!(hand_off < Duration::from_millis(500), "not pushed across nodes");
    database.remove().await;
}

/// Sixteen clients, half on each node, increment a counter only while holding the lock. Any overlap of two
/// grants, lost update, or fencing token going backwards fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutual_exclusion_holds_across_nodes() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    const CLIENTS: usize = 16;
    const ROUNDS: u64 = 10;
    let counter = Arc::new(AtomicU64::new(0));
    let inside = Arc::new(AtomicBool::new(false));
    let last_token = Arc::new(AtomicI64::new(0));
    let workers = (0..CLIENTS).map(|i| {
        let client = if i % 2 == 0 { node_a.client() } else { node_b.client() };
        let (counter, inside, last_token) = (counter.clone(), inside.clone(), last_token.clone());
        tokio::spawn(async move {
            let owner = format!("worker-{i}");
            for _ in 0..ROUNDS {
                let grant = client
                    .acquire_lock(AcquireLockRequest { wait_timeout_seconds: Some(60), ..request("counter", &owner) })
                    .await
                    .expect("granted within the wait");
                assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                let previous = last_token.swap(grant.fencing_token, Ordering::SeqCst);
                assert!(
                    grant.fencing_token > previous,
                    "fencing token went from {previous} to {}",
                    grant.fencing_token
                );
                let value = counter.load(Ordering::SeqCst);
                tokio::task::yield_now().await;
                counter.store(value + 1, Ordering::SeqCst);
                inside.store(false, Ordering::SeqCst);
                client.release_lock("counter", &grant.lock_id, &owner).await.expect("release");
            }
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker.unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), CLIENTS as u64 * ROUNDS);
    database.remove().await;
}

#[tokio::test]
async fn cluster_nodes_report_postgres_and_share_leases() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    let ready: serde_json::Value = reqwest::get(format!("{}/ready", node_a.url)).await.unwrap().json().await.unwrap();
    assert_eq!(ready["backend"], "postgres");
    let lease = node_a.client().grant_lease(30).await.unwrap();
    node_b
        .client()
        .acquire_lock(AcquireLockRequest { lease_id: Some(lease.lease_id.clone()), ..request("k", "b") })
        .await
        .unwrap();
    node_a.client().revoke_lease(&lease.lease_id).await.unwrap();
    assert!(!node_b.client().lock_status("k").await.unwrap().is_locked);
    database.remove().await;
}
