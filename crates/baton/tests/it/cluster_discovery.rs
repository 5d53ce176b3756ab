//! Service discovery on two `baton serve` nodes sharing one PostgreSQL database: watches woken across nodes,
//! one index for both, and checks run by exactly one node.

use std::time::Duration;

use baton_client::InstanceQuery;

use crate::discovery::{Endpoint, health_of, http_check, next_event, ttl, until};
use crate::server::Server;

async fn two_nodes() -> Option<(Server, Server, baton_conformance::harness::TestDatabase)> {
    let database = baton_conformance::harness::fresh_database().await?;
    let a = Server::cluster(&database.url);
    let b = Server::cluster(&database.url);
    Some((a, b, database))
}

/// A blocking query and an SSE watch on node A are woken by a registration on node B.
#[tokio::test]
async fn a_watch_on_one_node_is_woken_by_a_registration_on_the_other() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let (a, b) = (node_a.client(), node_b.client());
    b.register_instance("web", "w-1", &ttl("10.0.0.1", 60, &[])).await.unwrap();
    let now = a.service_instances("web", &InstanceQuery::default()).await.unwrap();
    assert_eq!(now.index, 1, "both nodes read the one index");
    let mut watch = Box::pin(a.watch_service("web", &InstanceQuery::default()).await.unwrap());
    assert_eq!(next_event(&mut watch).await.index, 1);
    let blocked = tokio::spawn({
        let a = a.clone();
        async move { a.wait_for_instances("web", &InstanceQuery::default(), now.index, Duration::from_secs(60)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!blocked.is_finished());
    b.register_instance("web", "w-2", &ttl("10.0.0.2", 60, &[])).await.unwrap();
    let woken =
        tokio::time::timeout(Duration::from_secs(10), blocked).await.expect("woken across nodes").unwrap().unwrap();
    assert_eq!((woken.index, woken.instances.len()), (2, 2));
    let streamed = next_event(&mut watch).await;
    assert_eq!((streamed.index, streamed.instances.len()), (2, 2));
    // Writes from both nodes draw from the one index.
    a.deregister_instance("web", "w-1").await.unwrap();
    assert_eq!(b.service_instances("web", &InstanceQuery::default()).await.unwrap().index, 3);
    drop(watch);
    drop((node_a, node_b));
    database.remove().await;
}

/// Two nodes, one HTTP check every second: every probe comes from the same node, the one that records it.
#[tokio::test]
async fn checks_are_run_by_exactly_one_node() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let endpoint = Endpoint::start(200).await;
    let a = node_a.client();
    a.register_instance("web", "w-1", &http_check(&endpoint.url)).await.unwrap();
    node_b.client().register_instance("api", "a-1", &http_check(&endpoint.url)).await.unwrap();
    until(&a, "web", Duration::from_secs(20), "the check passes", |view| health_of(view, "w-1") == Some("passing"))
        .await;
    // Several intervals' worth of probes of both checks.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while endpoint.hits().len() < 8 {
        assert!(tokio::time::Instant::now() < deadline, "too few probes: {:?}", endpoint.hits());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hits = endpoint.hits();
    let nodes = [format!("node-{}", node_a.pid()), format!("node-{}", node_b.pid())];
    let prober = hits[0].strip_prefix("baton-health-check/").expect("the prober names itself").to_owned();
    assert!(nodes.contains(&prober), "{prober} is one of {nodes:?}");
    assert!(hits.iter().all(|agent| agent == &hits[0]), "probes came from more than one node: {hits:?}");
    let instance = node_b.client().instance("web", "w-1").await.unwrap();
    assert_eq!(instance.checked_by.as_deref(), Some(prober.as_str()));
    // About one probe per check per interval, not one per node.
    let (before, started) = (endpoint.hits().len(), tokio::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let per_second = (endpoint.hits().len() - before) as f64 / started.elapsed().as_secs_f64();
    assert!(per_second < 3.5, "two checks at 1/s should make about 2 probes a second, saw {per_second:.1}");

    // The prober stops (SIGTERM gives its seat up): the standby, waiting in line, takes over the checks.
    let (mut node_a, mut node_b) = (node_a, node_b);
    let (stopped, standby) = if prober == nodes[0] { (&mut node_a, &node_b) } else { (&mut node_b, &node_a) };
    assert!(stopped.terminate().success());
    let successor = format!("baton-health-check/node-{}", standby.pid());
    let seen = endpoint.hits().len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !endpoint.hits()[seen..].contains(&successor) {
        assert!(tokio::time::Instant::now() < deadline, "the standby never probed: {:?}", &endpoint.hits()[seen..]);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let survivor = standby.client();
    until(&survivor, "web", Duration::from_secs(20), "the successor records a result", |view| {
        view.instances.iter().any(|i| i.checked_by.as_deref() == successor.strip_prefix("baton-health-check/"))
    })
    .await;
    drop((node_a, node_b));
    database.remove().await;
}

/// The prober is killed (`kill -9`: no chance to give its seat up): once its seat's TTL lapses, the standby
/// waiting in line takes over the checks.
#[tokio::test]
async fn a_crashed_probers_standby_takes_over_once_its_seat_lapses() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let endpoint = Endpoint::start(200).await;
    node_a.client().register_instance("web", "w-1", &http_check(&endpoint.url)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while endpoint.hits().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never probed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = endpoint.hits()[0].clone();
    let (mut node_a, mut node_b) = (node_a, node_b);
    let a_probes = first == format!("baton-health-check/node-{}", node_a.pid());
    let (crashed, standby) = if a_probes { (&mut node_a, &node_b) } else { (&mut node_b, &node_a) };
    crashed.kill_hard();
    let successor = format!("baton-health-check/node-{}", standby.pid());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !endpoint.hits().contains(&successor) {
        assert!(tokio::time::Instant::now() < deadline, "the standby never took over: {:?}", endpoint.hits());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop((node_a, node_b));
    database.remove().await;
}
