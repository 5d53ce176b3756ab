//! Claims and elections on two `baton serve` nodes sharing one PostgreSQL database.

use std::time::{Duration, Instant};

use baton_api::claim::NextClaimRequest;
use baton_api::election::CampaignRequest;
use baton_client::ClientError;
use futures::StreamExt as _;

use crate::server::Server;

async fn two_nodes() -> Option<(Server, Server, baton_conformance::harness::TestDatabase)> {
    let database = baton_conformance::harness::fresh_database().await?;
    let a = Server::cluster(&database.url);
    let b = Server::cluster(&database.url);
    Some((a, b, database))
}

/// Eight workers, half on each node, drain one list of candidates: every resource is claimed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_exclusive_across_nodes() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let candidates: Vec<String> = (0..30).map(|n| format!("file-{n:02}.csv")).collect();
    let workers = (0..8).map(|worker| {
        let client = if worker % 2 == 0 { node_a.client() } else { node_b.client() };
        let candidates = candidates.clone();
        tokio::spawn(async move {
            let request = NextClaimRequest { owner: format!("w{worker}"), candidates, ttl_seconds: 60, metadata: None };
            let mut claimed = Vec::new();
            loop {
                match client.claim_next("imports", &request).await {
                    Ok(claim) => claimed.push(claim.resource),
                    Err(error) if error.code() == Some("NO_CLAIM_AVAILABLE") => return claimed,
                    Err(error) => panic!("unexpected {error}"),
                }
            }
        })
    });
    let mut all: Vec<String> = futures::future::join_all(workers).await.into_iter().flat_map(Result::unwrap).collect();
    all.sort();
    assert_eq!(all, candidates);
    drop((node_a, node_b));
    database.remove().await;
}

/// A leader on node A stops renewing; the candidate waiting on node B leads as soon as the TTL lapses, and an
/// observer on B sees it.
#[tokio::test]
async fn leadership_hands_over_across_nodes_when_the_ttl_lapses() {
    let Some((node_a, node_b, database)) = two_nodes().await else { return };
    let campaign = |candidate: &str, ttl_seconds, wait| CampaignRequest {
        candidate: candidate.into(),
        ttl_seconds,
        wait_timeout_seconds: wait,
        wait_timeout_ms: None,
        value: None,
    };
    let first = node_a.client().campaign("primary", &campaign("on-a", 1, None)).await.unwrap();
    let mut observed = Box::pin(node_b.client().observe_election("primary").await.unwrap());
    let now = observed.next().await.unwrap().unwrap();
    assert_eq!(now.leader.map(|leader| leader.candidate).as_deref(), Some("on-a"));
    let started = Instant::now();
    let next = node_b.client().campaign("primary", &campaign("on-b", 10, Some(20))).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(next.candidate, "on-b");
    assert!(next.term > first.term);
    eprintln!("cross-node hand-off after a 1 s TTL: waited {waited:?}");
    assert!(waited < Duration::from_millis(2500), "not handed over promptly: {waited:?}");
    let change = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let state = observed.next().await.unwrap().unwrap();
            if state.leader.as_ref().is_some_and(|leader| leader.candidate == "on-b") {
                return state;
            }
        }
    })
    .await
    .expect("the observer on B sees the new leader");
    assert_eq!(change.leader.unwrap().term, next.term);
    let refused = node_a.client().renew_leadership("primary", &first.leadership_id, "on-a").await;
    assert!(matches!(refused, Err(ClientError::Api { ref code, .. }) if code == "NOT_LEADER"));
    drop((node_a, node_b));
    database.remove().await;
}
