//! The claim and election behaviours every backend must show: claims held, done for good, discarded, lapsed,
//! picked from candidates; leadership won, proclaimed, resigned and handed on.

use std::time::Duration;

use baton_core::Error;
use baton_core::claim::{
    Claim, ClaimParams, ClaimState, ClaimStatus, FinishClaimParams, ListClaimsParams, NextClaimParams, claim_key,
};
use baton_core::election::{ProclaimParams, election_key};
use baton_core::lock::{AcquireOutcome, AcquireParams, ListLocksParams, LockId, ReleaseParams, RenewParams};
use baton_core::namespace::Namespace;
use baton_core::store::Change;
use serde_json::json;

use crate::harness::Harness;

const SECOND: Duration = Duration::from_secs(1);

fn ns() -> Namespace {
    Namespace::default()
}

fn claim_params(resource: &str, owner: &str) -> ClaimParams {
    ClaimParams {
        namespace: ns(),
        resource: resource.into(),
        claim_id: LockId::new(),
        owner: owner.into(),
        ttl_ms: 10_000,
        metadata: Some(json!({"file": resource})),
    }
}

fn finish(claim: &Claim, metadata: Option<serde_json::Value>) -> FinishClaimParams {
    FinishClaimParams {
        namespace: ns(),
        resource: claim.resource.clone(),
        claim_id: claim.claim_id,
        owner: claim.owner.clone(),
        metadata,
    }
}

fn next_params(owner: &str, candidates: &[&str]) -> NextClaimParams {
    NextClaimParams {
        namespace: ns(),
        candidates: candidates.iter().map(|c| (*c).to_owned()).collect(),
        claim_id: LockId::new(),
        owner: owner.into(),
        ttl_ms: 10_000,
        metadata: None,
    }
}

pub async fn a_claim_is_held_then_done_for_good(h: &Harness) {
    let claim = h.store.claim(claim_params("a.csv", "w1")).await.unwrap();
    assert_eq!((claim.state, claim.expires_at), (ClaimState::Held, Some(h.clock_now().plus(10 * SECOND))));
    match h.store.claim(claim_params("a.csv", "w2")).await {
        Err(Error::ClaimHeld { owner, .. }) => assert_eq!(owner, "w1"),
        other => panic!("expected CLAIM_HELD, got {other:?}"),
    }
    let done = h.store.finish_claim(finish(&claim, Some(json!({"rows": 10})))).await.unwrap();
    assert_eq!((done.state, done.done_at), (ClaimState::Done, Some(h.clock_now())));
    assert_eq!(done.metadata, Some(json!({"file": "a.csv", "rows": 10})), "done metadata merged in");
    // Done is idempotent for its own claim, and final for everyone.
    assert_eq!(h.store.finish_claim(finish(&claim, None)).await.unwrap().done_at, done.done_at);
    let stranger = FinishClaimParams { owner: "w2".into(), ..finish(&claim, None) };
    assert!(matches!(h.store.finish_claim(stranger).await, Err(Error::ClaimDone { .. })));
    h.advance(60 * SECOND);
    assert!(matches!(h.store.claim(claim_params("a.csv", "w2")).await, Err(Error::ClaimDone { .. })));
    assert!(matches!(h.store.claim_status(&ns(), "a.csv").await.unwrap(), ClaimStatus::Done(_)));
    // Its lock is gone: the resource's key holds nothing.
    assert!(h.store.status(&ns(), &claim_key("a.csv")).await.unwrap().holders.is_empty());
}

pub async fn a_discarded_or_lapsed_claim_is_granted_again_with_a_higher_token(h: &Harness) {
    let first = h.store.claim(claim_params("b.csv", "w1")).await.unwrap();
    let discarded = h.store.discard_claim(finish(&first, None)).await.unwrap();
    assert_eq!(discarded.claim_id, first.claim_id);
    assert!(matches!(h.store.claim_status(&ns(), "b.csv").await.unwrap(), ClaimStatus::Free));
    let second = h.store.claim(claim_params("b.csv", "w2")).await.unwrap();
    assert!(second.fencing_token > first.fencing_token);
    assert!(matches!(h.store.discard_claim(finish(&first, None)).await, Err(Error::ClaimNotHeld { .. })));
    let stranger = FinishClaimParams { owner: "w3".into(), ..finish(&second, None) };
    assert!(matches!(h.store.finish_claim(stranger).await, Err(Error::ClaimNotHeld { .. })));
    // Renewal is the lock's.
    let renew = RenewParams {
        namespace: ns(),
        key: claim_key("b.csv"),
        lock_id: second.claim_id,
        owner: "w2".into(),
        ttl_ms: Some(20_000),
    };
    assert_eq!(h.store.renew(renew).await.unwrap().expires_at, h.clock_now().plus(20 * SECOND));
    h.advance(21 * SECOND);
    let third = h.store.claim(claim_params("b.csv", "w3")).await.unwrap();
    assert!(third.fencing_token > second.fencing_token, "a lapsed claim is free again");
    assert!(matches!(h.store.finish_claim(finish(&second, None)).await, Err(Error::ClaimNotHeld { .. })));
}

pub async fn next_claims_the_first_candidate_neither_held_nor_done(h: &Harness) {
    let a = h.store.claim(claim_params("a", "other")).await.unwrap();
    h.store.finish_claim(finish(&a, None)).await.unwrap();
    h.store.claim(claim_params("b", "other")).await.unwrap();
    let got = h.store.claim_next(next_params("w", &["a", "b", "c", "d"])).await.unwrap();
    assert_eq!((got.resource.as_str(), got.owner.as_str()), ("c", "w"));
    let then = h.store.claim_next(next_params("w", &["a", "b", "c", "d"])).await.unwrap();
    assert_eq!(then.resource, "d");
    match h.store.claim_next(next_params("w", &["a", "b", "c", "d"])).await {
        Err(Error::NoClaimAvailable { candidates: 4, done: 1, held: 3 }) => {}
        other => panic!("expected NO_CLAIM_AVAILABLE, got {other:?}"),
    }
}

pub async fn concurrent_next_claims_never_share_a_resource(h: &Harness) {
    let candidates: Vec<String> = (0..20).map(|n| format!("file-{n:02}")).collect();
    let nodes = match h.another_node().await {
        Some(other) => vec![h.store.clone(), other],
        None => vec![h.store.clone()],
    };
    let workers = (0..8).map(|worker| {
        let store = nodes[worker % nodes.len()].clone();
        let candidates = candidates.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let params = NextClaimParams {
                    namespace: Namespace::default(),
                    candidates: candidates.clone(),
                    claim_id: LockId::new(),
                    owner: format!("w{worker}"),
                    ttl_ms: 60_000,
                    metadata: None,
                };
                match store.claim_next(params).await {
                    Ok(claim) => got.push(claim.resource),
                    Err(Error::NoClaimAvailable { .. }) => return got,
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
        })
    });
    let mut all: Vec<String> = futures::future::join_all(workers).await.into_iter().flat_map(|w| w.unwrap()).collect();
    all.sort();
    assert_eq!(all, candidates, "each resource claimed exactly once");
}

pub async fn claims_list_held_and_done_by_resource(h: &Harness) {
    for (resource, owner) in [("q/3", "w1"), ("q/1", "w2"), ("q/2", "w1"), ("other", "w1")] {
        let claim = h.store.claim(claim_params(resource, owner)).await.unwrap();
        if resource == "q/2" {
            h.store.finish_claim(finish(&claim, None)).await.unwrap();
        }
    }
    let list = |state, owner: Option<&str>, after: Option<&str>, limit| ListClaimsParams {
        namespace: ns(),
        state,
        owner: owner.map(str::to_owned),
        prefix: Some("q/".into()),
        after: after.map(str::to_owned),
        limit,
    };
    let resources = |claims: Vec<Claim>| claims.into_iter().map(|c| (c.resource, c.state)).collect::<Vec<_>>();
    let first = h.store.list_claims(list(None, None, None, 2)).await.unwrap();
    assert_eq!(resources(first.items), vec![("q/1".into(), ClaimState::Held), ("q/2".into(), ClaimState::Done)]);
    assert!(first.next_cursor.is_some());
    let rest = h.store.list_claims(list(None, None, Some("q/2"), 2)).await.unwrap();
    assert_eq!((resources(rest.items), rest.next_cursor), (vec![("q/3".into(), ClaimState::Held)], None));
    let done = h.store.list_claims(list(Some(ClaimState::Done), None, None, 10)).await.unwrap();
    assert_eq!(done.items.len(), 1);
    let mine = h.store.list_claims(list(Some(ClaimState::Held), Some("w1"), None, 10)).await.unwrap();
    assert_eq!(resources(mine.items), vec![("q/3".into(), ClaimState::Held)]);
    // Claims are not locks: lock listings leave them out.
    let locks = ListLocksParams { namespace: ns(), limit: 10, ..ListLocksParams::default() };
    assert!(h.store.list(locks).await.unwrap().items.is_empty());
}

fn campaign(name: &str, candidate: &str, wait_ms: Option<i64>) -> AcquireParams {
    AcquireParams {
        namespace: ns(),
        key: election_key(name),
        lock_id: LockId::new(),
        owner: candidate.into(),
        ttl_ms: 10_000,
        permits: 1,
        lease_id: None,
        metadata: Some(json!({"address": candidate})),
        wait_ms,
        max_waiters: 100,
    }
}

pub async fn leadership_is_won_proclaimed_resigned_and_handed_on(h: &Harness) {
    let mut changes = h.store.changes();
    let first = match h.store.campaign(campaign("primary", "n1", None)).await.unwrap() {
        AcquireOutcome::Granted(holder) => holder,
        other => panic!("expected leadership, got {other:?}"),
    };
    assert!(matches!(h.store.campaign(campaign("primary", "n2", None)).await.unwrap(), AcquireOutcome::Held(_)));
    let second_in_line = campaign("primary", "n2", Some(60_000));
    let second_id = second_in_line.lock_id;
    assert!(matches!(h.store.campaign(second_in_line).await.unwrap(), AcquireOutcome::Queued { .. }));
    let proclaimed = h
        .store
        .proclaim(ProclaimParams {
            namespace: ns(),
            name: "primary".into(),
            leadership_id: first.lock_id,
            candidate: "n1".into(),
            value: Some(json!({"address": "10.0.0.1"})),
        })
        .await
        .unwrap();
    assert_eq!(proclaimed.metadata, Some(json!({"address": "10.0.0.1"})));
    let stranger = ProclaimParams {
        namespace: ns(),
        name: "primary".into(),
        leadership_id: second_id,
        candidate: "n2".into(),
        value: None,
    };
    assert!(matches!(h.store.proclaim(stranger).await, Err(Error::NotLeader { .. })));
    let resign =
        ReleaseParams { namespace: ns(), key: election_key("primary"), lock_id: first.lock_id, owner: "n1".into() };
    h.store.resign(resign).await.unwrap();
    let status = h.store.status(&ns(), &election_key("primary")).await.unwrap();
    assert_eq!(status.holders[0].owner, "n2", "the next in line leads at once");
    assert!(status.holders[0].fencing_token > first.fencing_token, "a new term");
    // Every change of leadership is announced (amid other tests' changes on a shared PostgreSQL).
    let mut announced = 0;
    tokio::time::timeout(Duration::from_secs(5), async {
        while announced < 3 {
            if let Change::LeaderChanged { name, .. } = changes.recv().await.expect("feed open")
                && name == "primary"
            {
                announced += 1;
            }
        }
    })
    .await
    .expect("campaign, proclaim and resign are announced");
}

pub async fn a_lapsed_leader_hands_leadership_to_the_next_candidate(h: &Harness) {
    let AcquireOutcome::Granted(first) = h.store.campaign(campaign("scheduler", "n1", None)).await.unwrap() else {
        panic!("expected leadership");
    };
    let waiting = campaign("scheduler", "n2", Some(60_000));
    h.store.campaign(waiting).await.unwrap();
    h.advance(11 * SECOND);
    let report = h.store.expire_due(100).await.unwrap();
    assert_eq!(report.waiters_granted, 1);
    let status = h.store.status(&ns(), &election_key("scheduler")).await.unwrap();
    assert_eq!(status.holders.iter().map(|h| h.owner.as_str()).collect::<Vec<_>>(), vec!["n2"]);
    assert!(status.holders[0].fencing_token > first.fencing_token);
}
