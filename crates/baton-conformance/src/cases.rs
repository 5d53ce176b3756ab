//! The store behaviours every backend must show, as short scripts on a manual clock.

use std::collections::HashSet;
use std::time::Duration;

use baton_core::Error;
use baton_core::lock::{
    AcquireOutcome, AcquireParams, FencingToken, Holder, LeaseId, ListLocksParams, LockId, ReleaseParams, RenewParams,
    WaiterState,
};
use baton_core::namespace::Namespace;
use baton_core::store::Change;
use serde_json::json;

use crate::harness::Harness;

pub use crate::cache_cases::*;
pub use crate::claim_cases::*;
pub use crate::discovery_cases::*;
pub use crate::event_cases::*;
pub use crate::group_cases::*;
pub use crate::job_cases::*;
pub use crate::saga_cases::*;
pub use crate::workflow_cases::*;

const SECOND: Duration = Duration::from_secs(1);

fn ns() -> Namespace {
    Namespace::default()
}

fn params(key: &str, owner: &str) -> AcquireParams {
    AcquireParams {
        namespace: ns(),
        key: key.to_owned(),
        lock_id: LockId::new(),
        owner: owner.to_owned(),
        ttl_ms: 10_000,
        permits: 1,
        lease_id: None,
        metadata: None,
        wait_ms: None,
        max_waiters: 100,
    }
}

fn waiting(key: &str, owner: &str, wait_ms: i64) -> AcquireParams {
    AcquireParams { wait_ms: Some(wait_ms), ..params(key, owner) }
}

async fn granted(h: &Harness, p: AcquireParams) -> Holder {
    match h.store.acquire(p).await.expect("acquire") {
        AcquireOutcome::Granted(holder) => holder,
        other => panic!("expected a grant, got {other:?}"),
    }
}

async fn held_by(h: &Harness, p: AcquireParams) -> Vec<String> {
    match h.store.acquire(p).await.expect("acquire") {
        AcquireOutcome::Held(holders) => holders.into_iter().map(|h| h.owner).collect(),
        other => panic!("expected held, got {other:?}"),
    }
}

async fn queued(h: &Harness, p: AcquireParams) -> LockId {
    let lock_id = p.lock_id;
    assert!(matches!(h.store.acquire(p).await.expect("acquire"), AcquireOutcome::Queued { .. }));
    lock_id
}

async fn release(h: &Harness, holder: &Holder) -> Result<(), Error> {
    h.store
        .release(ReleaseParams {
            namespace: ns(),
            key: holder.key.clone(),
            lock_id: holder.lock_id,
            owner: holder.owner.clone(),
        })
        .await
}

async fn state(h: &Harness, key: &str, lock_id: LockId) -> WaiterState {
    h.store.waiter_state(&ns(), key, lock_id).await.expect("waiter state")
}

fn owner_of(state: WaiterState) -> String {
    match state {
        WaiterState::Granted(holder) => holder.owner,
        other => panic!("expected a grant, got {other:?}"),
    }
}

pub async fn grants_a_free_lock_and_reports_the_holder(h: &Harness) {
    let holder = granted(h, AcquireParams { metadata: Some(json!({"job": 7})), ..params("k", "a") }).await;
    assert_eq!((holder.key.as_str(), holder.owner.as_str()), ("k", "a"));
    assert_eq!(holder.expires_at, h.clock_now().plus(Duration::from_millis(10_000)));
    assert_eq!(held_by(h, params("k", "b")).await, vec!["a"]);

    let status = h.store.status(&ns(), "k").await.unwrap();
    assert_eq!(status.holders, vec![holder]);
    assert_eq!(status.holders[0].metadata, Some(json!({"job": 7})));
}

pub async fn fencing_tokens_increase_across_release_and_expiry(h: &Harness) {
    let first = granted(h, params("k", "a")).await;
    release(h, &first).await.unwrap();
    let second = granted(h, params("k", "b")).await;
    h.advance(11 * SECOND);
    let third = granted(h, params("k", "c")).await;
    assert!(first.fencing_token < second.fencing_token, "{first:?} then {second:?}");
    assert!(second.fencing_token < third.fencing_token, "{second:?} then {third:?}");
}

pub async fn a_lapsed_holder_frees_the_lock(h: &Harness) {
    granted(h, params("k", "a")).await;
    h.advance(9 * SECOND);
    assert_eq!(held_by(h, params("k", "b")).await, vec!["a"]);
    h.advance(SECOND);
    assert_eq!(granted(h, params("k", "b")).await.owner, "b");
    assert!(h.store.status(&ns(), "k").await.unwrap().holders.iter().all(|x| x.owner == "b"));
}

pub async fn release_is_refused_for_unknown_ids_and_other_owners(h: &Harness) {
    let holder = granted(h, params("k", "a")).await;
    let stranger = Holder { lock_id: LockId::new(), ..holder.clone() };
    assert!(matches!(release(h, &stranger).await, Err(Error::LockNotHeld { .. })));
    let impostor = Holder { owner: "b".into(), ..holder.clone() };
    assert!(matches!(release(h, &impostor).await, Err(Error::LockOwnerMismatch { .. })));
    assert_eq!(held_by(h, params("k", "b")).await, vec!["a"], "refused releases change nothing");
    release(h, &holder).await.unwrap();
    assert!(matches!(release(h, &holder).await, Err(Error::LockNotHeld { .. })), "twice is refused");
}

pub async fn renew_extends_a_live_lock_and_refuses_a_lapsed_one(h: &Harness) {
    let holder = granted(h, params("k", "a")).await;
    let renew =
        |ttl_ms| RenewParams { namespace: ns(), key: "k".into(), lock_id: holder.lock_id, owner: "a".into(), ttl_ms };
    h.advance(8 * SECOND);
    let renewed = h.store.renew(renew(Some(30_000))).await.unwrap();
    assert_eq!(renewed.expires_at, h.clock_now().plus(30 * SECOND));
    assert_eq!(renewed.fencing_token, holder.fencing_token, "renewal keeps the token");
    h.advance(29 * SECOND);
    assert_eq!(held_by(h, params("k", "b")).await, vec!["a"]);
    h.advance(SECOND);
    assert!(matches!(h.store.renew(renew(None)).await, Err(Error::LockNotHeld { .. })));
}

pub async fn permits_make_a_semaphore(h: &Harness) {
    let three = |owner: &str| AcquireParams { permits: 3, ..params("pool", owner) };
    let a = granted(h, three("a")).await;
    granted(h, three("b")).await;
    granted(h, three("c")).await;
    assert_eq!(held_by(h, three("d")).await, vec!["a", "b", "c"]);
    assert!(matches!(
        h.store.acquire(params("pool", "e")).await,
        Err(Error::PermitsMismatch { held_with: 3, requested: 1, .. })
    ));
    release(h, &a).await.unwrap();
    assert_eq!(granted(h, three("d")).await.permits, 3);
}

pub async fn waiters_are_granted_in_fifo_order_on_release(h: &Harness) {
    let a = granted(h, params("k", "a")).await;
    let b = queued(h, waiting("k", "b", 60_000)).await;
    let c = queued(h, waiting("k", "c", 60_000)).await;
    assert_eq!(state(h, "k", b).await, WaiterState::Waiting);
    assert_eq!(held_by(h, params("k", "d")).await, vec!["a"], "a newcomer does not jump the queue");

    release(h, &a).await.unwrap();
    let b_holder = match state(h, "k", b).await {
        WaiterState::Granted(holder) => holder,
        other => panic!("b should hold the lock, got {other:?}"),
    };
    assert_eq!(b_holder.lock_id, b, "a waiter's id becomes its lock id");
    assert!(b_holder.fencing_token > a.fencing_token);
    assert_eq!(state(h, "k", c).await, WaiterState::Waiting);

    release(h, &b_holder).await.unwrap();
    assert_eq!(owner_of(state(h, "k", c).await), "c");
}

pub async fn a_waiter_whose_deadline_passes_is_gone(h: &Harness) {
    granted(h, AcquireParams { ttl_ms: 60_000, ..params("k", "a") }).await;
    let b = queued(h, waiting("k", "b", 2_000)).await;
    h.advance(2 * SECOND);
    assert_eq!(state(h, "k", b).await, WaiterState::Gone);
    assert_eq!(h.store.cancel_wait(&ns(), "k", b).await.unwrap(), None);
    assert_eq!(h.store.status(&ns(), "k").await.unwrap().waiters, 0);
}

pub async fn cancel_wait_returns_a_grant_that_came_meanwhile(h: &Harness) {
    let a = granted(h, params("k", "a")).await;
    let b = queued(h, waiting("k", "b", 60_000)).await;
    let c = queued(h, waiting("k", "c", 60_000)).await;
    assert_eq!(h.store.cancel_wait(&ns(), "k", c).await.unwrap(), None, "c withdraws while waiting");
    release(h, &a).await.unwrap();
    let kept = h.store.cancel_wait(&ns(), "k", b).await.unwrap().expect("b was granted meanwhile");
    assert_eq!(kept.owner, "b");
    assert_eq!(h.store.status(&ns(), "k").await.unwrap().waiters, 0);
}

pub async fn expiry_pass_hands_a_lapsed_lock_to_the_next_waiter(h: &Harness) {
    granted(h, AcquireParams { ttl_ms: 5_000, ..params("k", "a") }).await;
    let b = queued(h, waiting("k", "b", 60_000)).await;
    let report = h.store.expire_due(100).await.unwrap();
    assert_eq!((report.keys_processed, report.next_due_in_ms), (0, Some(5_000)));

    h.advance(5 * SECOND);
    let report = h.store.expire_due(100).await.unwrap();
    assert_eq!((report.keys_processed, report.waiters_granted), (1, 1));
    assert_eq!(owner_of(state(h, "k", b).await), "b");
}

/// Holders that lapsed on keys nobody waits for go together, up to a pass's share, before the keys that need
/// settling one by one; a key freed that way still never hands out a smaller fencing token.
pub async fn an_expiry_pass_purges_lapsed_holders_nobody_waits_for_together(h: &Harness) {
    let mut lapsed = Vec::new();
    for key in ["p", "q", "r", "w"] {
        lapsed.push(granted(h, AcquireParams { ttl_ms: 1_000, ..params(key, "gone") }).await);
    }
    let next = queued(h, waiting("w", "next", 60_000)).await;
    let live = granted(h, AcquireParams { ttl_ms: 60_000, ..params("live", "stays") }).await;
    h.advance(2 * SECOND);

    let report = h.store.expire_due(2).await.unwrap();
    // Two of p, q and r together; the third over the share is settled with w, whose waiter is handed the lock.
    assert_eq!((report.holders_purged, report.keys_processed, report.waiters_granted), (2, 2, 1));
    assert_eq!(owner_of(state(h, "w", next).await), "next");
    let report = h.store.expire_due(2).await.unwrap();
    assert_eq!((report.holders_purged, report.keys_processed), (0, 0), "nothing lapsed is left");

    assert_eq!(h.store.status(&ns(), "live").await.unwrap().holders, vec![live], "a live holder stays");
    let again = granted(h, params("p", "new")).await;
    assert!(again.fencing_token > lapsed.iter().map(|holder| holder.fencing_token).max().unwrap());
}

/// A pass settles at most its share of the keys that are due, the longest lapsed first whatever their names, so
/// that a backlog drains in lapse order and no key waits behind later ones.
pub async fn an_expiry_pass_settles_the_longest_lapsed_keys_first(h: &Harness) {
    // Named against their lapse order: "d" lapses first, "a" last.
    let mut waiters = Vec::new();
    for (key, ttl_ms) in [("a", 4_000), ("b", 3_000), ("c", 2_000), ("d", 1_000)] {
        granted(h, AcquireParams { ttl_ms, ..params(key, "first") }).await;
        waiters.push((key, queued(h, waiting(key, "next", 60_000)).await));
    }
    h.advance(5 * SECOND);
    let mut settled_by_pass = Vec::new();
    for _ in 0..3 {
        let report = h.store.expire_due(2).await.unwrap();
        assert_eq!(report.keys_processed, report.waiters_granted, "every settled key had a waiter");
        let mut granted_keys = Vec::new();
        for (key, waiter) in &waiters {
            if matches!(state(h, key, *waiter).await, WaiterState::Granted(_)) {
                granted_keys.push(*key);
            }
        }
        settled_by_pass.push(granted_keys);
    }
    assert_eq!(settled_by_pass, [vec!["c", "d"], vec!["a", "b", "c", "d"], vec!["a", "b", "c", "d"]]);
}

pub async fn lease_bound_locks_live_and_die_with_their_lease(h: &Harness) {
    let lease_id = LeaseId::new();
    let lease = h.store.grant_lease(&ns(), lease_id, 10_000).await.unwrap();
    let on_lease = |key: &str| AcquireParams { lease_id: Some(lease_id), ..params(key, "a") };
    let x = granted(h, on_lease("x")).await;
    granted(h, on_lease("y")).await;
    assert_eq!(x.expires_at, lease.expires_at, "a lease-bound lock expires with its lease");
    assert!(matches!(
        h.store
            .renew(RenewParams {
                namespace: ns(),
                key: "x".into(),
                lock_id: x.lock_id,
                owner: "a".into(),
                ttl_ms: None
            })
            .await,
        Err(Error::LockLeaseBound { .. })
    ));

    h.advance(9 * SECOND);
    let kept = h.store.keepalive_lease(&ns(), lease_id).await.unwrap();
    assert_eq!(kept.expires_at, h.clock_now().plus(10 * SECOND));
    h.advance(9 * SECOND);
    assert_eq!(held_by(h, params("x", "b")).await, vec!["a"], "keepalive kept the lock");
    h.advance(SECOND);
    assert_eq!(granted(h, params("y", "b")).await.owner, "b", "the lapsed lease freed y");
    assert!(matches!(h.store.get_lease(&ns(), lease_id).await, Err(Error::LeaseNotFound { .. })));
}

/// Keepalives a second apart, as a busy client sends them: an embedded server answers all but the first from
/// memory and writes their expiries later. Every read shows the newest expiry, and the writer never judges an
/// older one.
pub async fn a_lease_kept_alive_again_and_again_keeps_its_locks_and_shows_its_newest_expiry(h: &Harness) {
    let lease_id = LeaseId::new();
    h.store.grant_lease(&ns(), lease_id, 10_000).await.unwrap();
    granted(h, AcquireParams { lease_id: Some(lease_id), ..params("x", "a") }).await;
    let mut newest = None;
    for _ in 0..5 {
        h.advance(SECOND);
        let kept = h.store.keepalive_lease(&ns(), lease_id).await.unwrap();
        assert_eq!(kept.expires_at, h.clock_now().plus(10 * SECOND));
        newest = Some(kept.expires_at);
    }
    let newest = newest.expect("kept alive");
    assert_eq!(h.store.get_lease(&ns(), lease_id).await.unwrap().expires_at, newest);
    let status = h.store.status(&ns(), "x").await.unwrap();
    assert_eq!(status.holders.iter().map(|holder| holder.expires_at).collect::<Vec<_>>(), [newest]);
    let listed = h.store.list(ListLocksParams { namespace: ns(), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed.items.iter().map(|holder| holder.expires_at).collect::<Vec<_>>(), [newest]);

    // Past every expiry but the newest one: an expiry pass frees nothing, and the lock is still held.
    h.advance(9 * SECOND);
    h.store.expire_due(100).await.unwrap();
    assert_eq!(held_by(h, params("x", "b")).await, vec!["a"], "the newest keepalive kept the lock");
    h.store.revoke_lease(&ns(), lease_id).await.unwrap();
    assert!(matches!(h.store.keepalive_lease(&ns(), lease_id).await, Err(Error::LeaseNotFound { .. })));
    assert_eq!(granted(h, params("x", "b")).await.owner, "b", "the revoke freed the lock");
}

/// Keepalives sent together (a backend may run them in one statement) each get their own lease's answer: the
/// same lease twice, leases of two namespaces, an unknown lease and a lapsed one.
pub async fn keepalives_sent_together_each_get_their_own_answer(h: &Harness) {
    let other = Namespace::parse("other").unwrap();
    let mut live = Vec::new();
    for (namespace, ttl_ms) in [(ns(), 10_000), (ns(), 20_000), (other.clone(), 30_000)] {
        let lease_id = LeaseId::new();
        h.store.grant_lease(&namespace, lease_id, ttl_ms).await.unwrap();
        live.push((namespace, lease_id, ttl_ms));
    }
    let lapsing = LeaseId::new();
    h.store.grant_lease(&ns(), lapsing, 1_000).await.unwrap();
    h.advance(2 * SECOND);

    let mut sent = Vec::new();
    for (namespace, lease_id, _) in live.iter().chain(&live) {
        sent.push((namespace.clone(), *lease_id));
    }
    sent.extend([(ns(), LeaseId::new()), (ns(), lapsing), (ns(), live[2].1)]);
    let answers = futures::future::join_all(
        sent.iter().map(|(namespace, lease_id)| h.store.keepalive_lease(namespace, *lease_id)),
    )
    .await;
    for (answer, (namespace, lease_id)) in answers.iter().zip(&sent) {
        match live.iter().find(|(live_namespace, live_id, _)| live_namespace == namespace && live_id == lease_id) {
            Some((_, _, ttl_ms)) => {
                let lease = answer.as_ref().expect("a live lease is kept alive");
                assert_eq!((lease.lease_id, lease.ttl_ms), (*lease_id, *ttl_ms));
                assert_eq!(lease.expires_at, h.clock_now().plus(Duration::from_millis(*ttl_ms as u64)));
            }
            None => assert!(matches!(answer, Err(Error::LeaseNotFound { .. })), "{namespace:?} {lease_id}: {answer:?}"),
        }
    }
}

pub async fn revoking_a_lease_releases_its_locks_and_wakes_waiters(h: &Harness) {
    let lease_id = LeaseId::new();
    h.store.grant_lease(&ns(), lease_id, 60_000).await.unwrap();
    for key in ["x", "y"] {
        granted(h, AcquireParams { lease_id: Some(lease_id), ..params(key, "a") }).await;
    }
    let b = queued(h, waiting("x", "b", 60_000)).await;
    h.store.revoke_lease(&ns(), lease_id).await.unwrap();
    assert_eq!(owner_of(state(h, "x", b).await), "b");
    assert_eq!(granted(h, params("y", "c")).await.owner, "c");
    assert!(matches!(h.store.revoke_lease(&ns(), lease_id).await, Err(Error::LeaseNotFound { .. })));
}

pub async fn unknown_and_lapsed_leases_are_refused(h: &Harness) {
    let unknown = LeaseId::new();
    assert!(matches!(h.store.keepalive_lease(&ns(), unknown).await, Err(Error::LeaseNotFound { .. })));
    assert!(matches!(
        h.store.acquire(AcquireParams { lease_id: Some(unknown), ..params("k", "a") }).await,
        Err(Error::LeaseNotFound { .. })
    ));
    let lapsing = LeaseId::new();
    h.store.grant_lease(&ns(), lapsing, 1_000).await.unwrap();
    h.advance(SECOND);
    assert!(matches!(h.store.keepalive_lease(&ns(), lapsing).await, Err(Error::LeaseNotFound { .. })));
    assert!(h.store.status(&ns(), "k").await.unwrap().holders.is_empty(), "refused acquire left nothing");
}

pub async fn list_filters_by_owner_and_prefix_and_pages(h: &Harness) {
    for (key, owner) in [("orders/1", "a"), ("orders/2", "b"), ("orders/3", "a"), ("users/1", "a")] {
        granted(h, params(key, owner)).await;
    }
    let list = |owner: Option<&str>, prefix: Option<&str>, after: Option<(String, String)>, limit| ListLocksParams {
        namespace: ns(),
        owner: owner.map(str::to_owned),
        prefix: prefix.map(str::to_owned),
        after,
        limit,
    };
    let keys = |page: &baton_core::page::Page<Holder>| page.items.iter().map(|h| h.key.clone()).collect::<Vec<_>>();

    let by_owner = h.store.list(list(Some("a"), Some("orders/"), None, 10)).await.unwrap();
    assert_eq!(keys(&by_owner), vec!["orders/1", "orders/3"]);
    assert_eq!(by_owner.next_cursor, None);

    let first = h.store.list(list(None, None, None, 3)).await.unwrap();
    assert_eq!(keys(&first), vec!["orders/1", "orders/2", "orders/3"]);
    assert!(first.next_cursor.is_some());
    let last = first.items.last().unwrap();
    let rest = h.store.list(list(None, None, Some((last.key.clone(), last.lock_id.to_string())), 3)).await.unwrap();
    assert_eq!(keys(&rest), vec!["users/1"]);
    assert_eq!(rest.next_cursor, None);

    h.advance(10 * SECOND);
    assert!(h.store.list(list(None, None, None, 10)).await.unwrap().items.is_empty(), "lapsed locks are not listed");
}

pub async fn status_counts_live_waiters(h: &Harness) {
    granted(h, AcquireParams { ttl_ms: 60_000, ..params("k", "a") }).await;
    queued(h, waiting("k", "b", 5_000)).await;
    queued(h, waiting("k", "c", 60_000)).await;
    assert_eq!(h.store.status(&ns(), "k").await.unwrap().waiters, 2);
    h.advance(5 * SECOND);
    assert_eq!(h.store.status(&ns(), "k").await.unwrap().waiters, 1);
    let empty = h.store.status(&ns(), "nothing").await.unwrap();
    assert!(empty.holders.is_empty() && empty.waiters == 0);
}

pub async fn namespaces_isolate_keys(h: &Harness) {
    let other = Namespace::parse("billing").unwrap();
    granted(h, params("k", "a")).await;
    let in_other = granted(h, AcquireParams { namespace: other.clone(), ..params("k", "b") }).await;
    assert_eq!(in_other.owner, "b");
    assert_eq!(h.store.status(&other, "k").await.unwrap().holders.len(), 1);
}

pub async fn change_feed_reports_granted_waiters(h: &Harness) {
    let mut changes = h.store.changes();
    let a = granted(h, params("k", "a")).await;
    let b = queued(h, waiting("k", "b", 60_000)).await;
    release(h, &a).await.unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match changes.recv().await.expect("feed open") {
                // The granting store's own announcement; another node's (PostgreSQL's NOTIFY) names only ids.
                Change::WaitersGranted(grants)
                    if grants.iter().any(|grant| grant.lock_id == b && grant.holder.is_some()) =>
                {
                    return grants;
                }
                _ => continue,
            }
        }
    })
    .await
    .expect("the grant is announced");
    assert_eq!(change.iter().map(|grant| grant.lock_id).collect::<Vec<_>>(), vec![b]);
    let holder = change[0].holder.as_deref().expect("the granting store names the new holder");
    assert_eq!((holder.lock_id, holder.owner.as_str()), (b, "b"));
    assert_eq!(holder, &h.store.status(&Namespace::default(), "k").await.unwrap().holders[0]);
}

pub async fn waiter_limit_is_enforced(h: &Harness) {
    granted(h, params("k", "a")).await;
    queued(h, AcquireParams { max_waiters: 1, ..waiting("k", "b", 60_000) }).await;
    assert!(matches!(
        h.store.acquire(AcquireParams { max_waiters: 1, ..waiting("k", "c", 60_000) }).await,
        Err(Error::TooManyWaiters { limit: 1, .. })
    ));
}

/// Many tasks race for a 2-permit key; at no instant may a third holder exist, and tokens never repeat.
pub async fn concurrent_acquires_never_exceed_permits(h: &Harness) {
    let attempts = (0..40).map(|i| {
        let store = h.store.clone();
        async move {
            let p = AcquireParams { permits: 2, ..params("hot", &format!("w{i}")) };
            store.acquire(p).await.expect("acquire")
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let grants: Vec<FencingToken> = outcomes
        .iter()
        .filter_map(|o| match o {
            AcquireOutcome::Granted(holder) => Some(holder.fencing_token),
            _ => None,
        })
        .collect();
    assert_eq!(grants.len(), 2, "exactly the permits are granted: {outcomes:?}");
    assert_eq!(grants.iter().collect::<HashSet<_>>().len(), 2);
}
