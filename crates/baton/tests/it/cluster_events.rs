//! The event store on two `baton serve` nodes sharing one PostgreSQL database: appends on either node form one
//! gapless log, and an append on one node reaches a subscriber on the other at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use baton_api::event::JoinGroupRequest;
use baton_client::{ReadGroup, Subscribe, SubscriptionEvent, event_body};
use futures::StreamExt as _;
use serde_json::json;

use crate::server::Server;

async fn two_nodes() -> Option<(Server, Server, baton_conformance::harness::TestDatabase)> {
    let database = baton_conformance::harness::fresh_database().await?;
    let a = Server::cluster(&database.url);
    let b = Server::cluster(&database.url);
    Some((a, b, database))
}

#[tokio::test]
async fn an_append_on_one_node_reaches_a_subscriber_on_the_other() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let (a, b) = (node_a.client(), node_b.client());
    let mut live = Box::pin(b.subscribe(&Subscribe { stream: "$all".into(), ..Subscribe::default() }).await.unwrap());
    let mut delays = Vec::new();
    for round in 0..5 {
        let sent = Instant::now();
        a.append_events("pings", vec![event_body("ping", &json!({"round": round}), None)], None).await.unwrap();
        eprintln!("append answered after {:?}", sent.elapsed());
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), live.next()).await.expect("delivered");
            if let SubscriptionEvent::Event(event) = next.unwrap().unwrap() {
                assert_eq!(event.global_position, round + 1);
                delays.push(sent.elapsed());
                break;
            }
        }
    }
    eprintln!("cross-node delivery, append sent to event received: {delays:?}");
    delays.sort();
    // Far below the one-second safety poll: the wake-up crossed nodes through NOTIFY.
    assert!(delays[2] < Duration::from_millis(200), "not pushed across nodes: {delays:?}");
    drop((node_a, node_b));
    database.remove().await;
}

/// Eight clients append through both nodes while a subscriber on one node follows the log from the start: it
/// gets every acknowledged event once, at gapless positions, and each stream's events in version order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appenders_on_both_nodes_make_one_gapless_log() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let subscribe = Subscribe { stream: "$all".into(), from: Some(1), ..Subscribe::default() };
    let mut log = Box::pin(node_b.client().subscribe(&subscribe).await.unwrap());
    let writers = (0..8).map(|writer| {
        let client = if writer % 2 == 0 { node_a.client() } else { node_b.client() };
        tokio::spawn(async move {
            let mut written = 0;
            for batch in 0..25 {
                let size = 1 + (writer + batch) % 4;
                let events = (0..size).map(|n| event_body("t", &json!({"writer": writer, "n": n}), None)).collect();
                let stream = format!("account-{}", (writer + batch) % 5);
                client.append_events(&stream, events, None).await.unwrap();
                written += size;
            }
            written
        })
    });
    let total: usize = futures::future::join_all(writers).await.into_iter().map(Result::unwrap).sum();
    let mut versions: BTreeMap<String, i64> = BTreeMap::new();
    let mut position = 0;
    while position < total as i64 {
        let next = tokio::time::timeout(Duration::from_secs(10), log.next()).await.expect("no stall");
        let SubscriptionEvent::Event(event) = next.unwrap().unwrap() else { continue };
        assert_eq!(event.global_position, position + 1, "skipped or repeated a position");
        position = event.global_position;
        let last = versions.entry(event.stream_id.clone()).or_insert(-1);
        assert_eq!(event.version, *last + 1, "{} out of version order", event.stream_id);
        *last = event.version;
    }
    drop((node_a, node_b));
    database.remove().await;
}

#[tokio::test]
async fn group_members_on_two_nodes_split_the_streams() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    for stream in 0..10 {
        let events = (0..3).map(|n| event_body("t", &json!({"n": n}), None)).collect();
        node_a.client().append_events(&format!("account-{stream}"), events, None).await.unwrap();
    }
    let join = |member: &str| JoinGroupRequest {
        member_id: Some(member.into()),
        partitions: Some(16),
        ..JoinGroupRequest::default()
    };
    node_a.client().join_group("g", &join("on-a")).await.unwrap();
    node_b.client().join_group("g", &join("on-b")).await.unwrap();
    let read = |member: &str| ReadGroup {
        member_id: member.into(),
        generation: None,
        after_position: None,
        limit: Some(100),
        wait: None,
    };
    let share_a = node_a.client().read_group("g", &read("on-a")).await.unwrap();
    let share_b = node_b.client().read_group("g", &read("on-b")).await.unwrap();
    assert_eq!(share_a.generation, share_b.generation);
    assert_eq!(share_a.events.len() + share_b.events.len(), 30);
    let streams_a: std::collections::HashSet<&str> = share_a.events.iter().map(|e| e.stream_id.as_str()).collect();
    assert!(share_b.events.iter().all(|e| !streams_a.contains(e.stream_id.as_str())), "a stream owned twice");
    drop((node_a, node_b));
    database.remove().await;
}
