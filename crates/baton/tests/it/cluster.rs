//! Two `baton serve` nodes on one PostgreSQL database behave as one service.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_api::job::{CompleteItem, EnqueueJob, FetchRequest, QueueSettingsRequest, RateLimitBody, ScheduleRequest};
use baton_api::lock::AcquireLockRequest;
use baton_client::ListJobs;
use baton_conformance::harness::TestDatabase;
use futures::FutureExt as _;
use serde_json::json;

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

#[tokio::test]
async fn an_enqueue_on_one_node_wakes_a_long_poll_on_the_other() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    let (a, b) = (node_a.client(), node_b.client());
    let poll = tokio::spawn(async move {
        let request = FetchRequest { worker_id: "on-b".into(), wait_ms: Some(20_000), ..FetchRequest::default() };
        let jobs = b.fetch_jobs(&["q"], request).await;
        (jobs, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.enqueue("q", &EnqueueJob { job_type: "t".into(), ..EnqueueJob::default() }).await.unwrap();
    let enqueued_at = Instant::now();
    let (jobs, fetched_at) = poll.await.unwrap();
    assert_eq!(jobs.unwrap().len(), 1);
    let pickup = fetched_at.duration_since(enqueued_at);
    eprintln!("cross-node pickup, measured from the enqueue's answer: {pickup:?}");
    assert!(pickup < Duration::from_millis(500), "not pushed across nodes");
    drop((node_a, node_b));
    database.remove().await;
}

#[tokio::test]
async fn workers_on_two_nodes_complete_every_job_exactly_once() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    const JOBS: usize = 10_000;
    let a = node_a.client();
    for chunk in 0..JOBS / 1_000 {
        let batch = (0..1_000)
            .map(|n| EnqueueJob { job_type: "t".into(), payload: json!(chunk * 1_000 + n), ..EnqueueJob::default() })
            .collect();
        a.enqueue_batch("q", batch).await.unwrap();
    }
    let completed = Arc::new(Mutex::new(Vec::new()));
    let workers = (0..8).map(|worker| {
        let client = if worker % 2 == 0 { node_a.client() } else { node_b.client() };
        let completed = completed.clone();
        tokio::spawn(async move {
            loop {
                let request =
                    FetchRequest { worker_id: format!("w{worker}"), max_jobs: Some(25), ..FetchRequest::default() };
                let jobs = client.fetch_jobs(&["q"], request).await.expect("fetch");
                if jobs.is_empty() {
                    return;
                }
                let items = jobs
                    .iter()
                    .map(|job| CompleteItem {
                        job_id: job.job_id.clone(),
                        lease_token: job.lease_token.unwrap(),
                        result: None,
                    })
                    .collect();
                let results = client.complete_jobs(items).await.expect("complete").results;
                assert!(results.iter().all(|r| r.ok), "{results:?}");
                completed.lock().unwrap().extend(jobs.into_iter().map(|job| job.payload.as_u64().unwrap()));
            }
        })
    });
    for worker in workers.collect::<Vec<_>>() {
        worker.await.unwrap();
    }
    let mut completed = completed.lock().unwrap().clone();
    completed.sort_unstable();
    assert_eq!(completed, (0..JOBS as u64).collect::<Vec<_>>(), "every job completed once, none lost");
    let stats = a.queues().await.unwrap().queues;
    assert_eq!(stats[0].counts.get("completed"), Some(&(JOBS as u64)));
    drop((node_a, node_b));
    database.remove().await;
}

#[tokio::test]
async fn a_schedule_fires_once_per_tick_on_two_nodes() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    let request = ScheduleRequest {
        name: "every-second".into(),
        cron: "* * * * * *".into(),
        queue: "cron".into(),
        job: EnqueueJob { job_type: "tick".into(), ..EnqueueJob::default() },
        ..ScheduleRequest::default()
    };
    node_a.client().save_schedule(&request).await.unwrap();
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    node_b.client().pause_schedule("every-second", true).await.unwrap();
    let jobs = node_b.client().list_jobs(&ListJobs { queue: Some("cron".into()), ..ListJobs::default() }).await;
    let keys: Vec<String> = jobs.unwrap().jobs.into_iter().filter_map(|job| job.unique_key).collect();
    let distinct: std::collections::HashSet<&String> = keys.iter().collect();
    assert!(keys.len() >= 3, "both schedulers ran for four seconds: {keys:?}");
    assert_eq!(distinct.len(), keys.len(), "one job per tick: {keys:?}");
    drop((node_a, node_b));
    database.remove().await;
}

/// Fetches concurrently from both nodes, never completing, until nothing more is handed out; returns the jobs.
async fn fetch_everything_allowed(nodes: [&Server; 2], queue: &str) -> Vec<baton_api::job::JobView> {
    let fetchers = (0..6).map(|n| {
        let client = nodes[n % 2].client();
        let queue = queue.to_owned();
        tokio::spawn(async move {
            let mut taken = Vec::new();
            for _ in 0..5 {
                let request = FetchRequest { worker_id: format!("w{n}"), max_jobs: Some(2), ..FetchRequest::default() };
                taken.extend(client.fetch_jobs(&[queue.as_str()], request).await.expect("fetch"));
            }
            taken
        })
    });
    let mut all = Vec::new();
    for fetcher in fetchers.collect::<Vec<_>>() {
        all.extend(fetcher.await.unwrap());
    }
    all
}

#[tokio::test]
async fn queue_limits_hold_across_two_nodes() {
    let Some((node_a, node_b, database)) = two_nodes().await else {
        return;
    };
    let (a, b) = (node_a.client(), node_b.client());
    let jobs = |key: Option<&str>| {
        (0..20)
            .map(|_| EnqueueJob {
                job_type: "t".into(),
                concurrency_key: key.map(str::to_owned),
                ..EnqueueJob::default()
            })
            .collect::<Vec<_>>()
    };

    a.enqueue_batch("limited", jobs(None)).await.unwrap();
    let limit = QueueSettingsRequest { global_concurrency: Some(3), ..QueueSettingsRequest::default() };
    b.update_queue("limited", &limit).await.unwrap();
    let running = fetch_everything_allowed([&node_a, &node_b], "limited").await;
    assert_eq!(running.len(), 3, "global concurrency 3, whichever node the workers use");
    let first = &running[0];
    b.complete_job(&first.job_id, first.lease_token.unwrap(), None).await.unwrap();
    assert_eq!(fetch_everything_allowed([&node_a, &node_b], "limited").await.len(), 1, "one slot freed");

    a.enqueue_batch("rated", jobs(None)).await.unwrap();
    let rate = QueueSettingsRequest {
        rate_limit: Some(RateLimitBody { limit: 5, period_seconds: 3600 }),
        ..QueueSettingsRequest::default()
    };
    a.update_queue("rated", &rate).await.unwrap();
    assert_eq!(fetch_everything_allowed([&node_a, &node_b], "rated").await.len(), 5, "five starts per hour");

    a.enqueue_batch("keyed", jobs(Some("customer-1"))).await.unwrap();
    a.enqueue_batch("keyed", jobs(Some("customer-2"))).await.unwrap();
    let running = fetch_everything_allowed([&node_a, &node_b], "keyed").await;
    let mut keys: Vec<String> = running.into_iter().filter_map(|job| job.concurrency_key).collect();
    keys.sort();
    assert_eq!(keys, vec!["customer-1", "customer-2"], "one running job per key across nodes");
    drop((node_a, node_b));
    database.remove().await;
}
