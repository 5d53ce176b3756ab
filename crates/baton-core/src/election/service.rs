//! The election service: campaigns (waiting in line through `LockService`), proclaim, renew, resign, and
//! observation of leadership, woken by the change feed on any node.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::clock::Timestamp;
use crate::election::model::{ElectionState, Leadership, ProclaimParams, election_key};
use crate::error::Error;
use crate::limits::Limits;
use crate::lock::service::{AcquireRequest, check_ttl};
use crate::lock::{LockId, LockService, ReleaseParams, RenewParams};
use crate::namespace::Namespace;
use crate::store::{Change, Followed, Store, follow_changes};
use crate::streaming::{StreamSlot, StreamSlots};
use crate::wakeups::{Wakeups, Watch};

/// How long an observer sleeps without a wake-up before it looks again: the bounded safety net, and the longest
/// an observer takes to see a leader lapse with no candidate in line.
const OBSERVE_SAFETY_NET: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct CampaignRequest {
    pub namespace: Namespace,
    pub name: String,
    pub candidate: String,
    pub ttl: Duration,
    /// Wait in line up to this long when another candidate leads; `None` answers at once.
    pub wait: Option<Duration>,
    pub value: Option<Value>,
}

#[derive(Clone)]
pub struct ElectionService {
    store: Arc<dyn Store>,
    locks: LockService,
    limits: Limits,
    observers: Arc<Wakeups<(Namespace, String)>>,
    slots: StreamSlots,
}

impl ElectionService {
    pub fn new(store: Arc<dyn Store>, locks: LockService, limits: Limits, slots: StreamSlots) -> Self {
        Self { store, locks, limits, observers: Arc::default(), slots }
    }

    /// Wakes this node's observers on every change of leadership, here or on another node, until shutdown.
    pub async fn run_wakeups(&self, shutdown: CancellationToken) {
        follow_changes(self.store.changes(), shutdown, |followed| match followed {
            Followed::Change(Change::LeaderChanged { namespace, name }) => self.observers.wake(&(namespace, name)),
            // A lapsed leader's successor is granted by the lock reaper, which announces only the grant.
            Followed::Change(Change::WaitersGranted(_)) | Followed::Lost => self.observers.wake_all(),
            Followed::Change(_) => {}
        })
        .await;
    }

    pub async fn campaign(&self, request: CampaignRequest) -> Result<Leadership, Error> {
        self.limits.check_key("the election name", &request.name)?;
        let acquire = AcquireRequest {
            namespace: request.namespace.clone(),
            key: election_key(&request.name),
            owner: request.candidate,
            ttl: request.ttl,
            wait: request.wait,
            permits: Some(1),
            lease_id: None,
            metadata: request.value,
        };
        let name = request.name;
        match self.locks.acquire_through(acquire, |store, params| store.campaign(params)).await {
            Ok(holder) => Ok(Leadership::from_holder(&request.namespace, holder)),
            Err(Error::LockHeld { holders, .. }) => {
                let leader = holders.into_iter().next();
                Err(Error::LeaderExists {
                    name,
                    leader: leader.as_ref().map(|holder| holder.owner.clone()).unwrap_or_default(),
                    expires_at: leader.map_or(Timestamp(0), |holder| holder.expires_at),
                })
            }
            Err(Error::LockWaitTimeout { waited_ms, .. }) => Err(Error::CampaignTimeout { name, waited_ms }),
            Err(other) => Err(other),
        }
    }

    pub async fn proclaim(
        &self,
        namespace: Namespace,
        name: &str,
        leadership_id: &str,
        candidate: String,
        value: Option<Value>,
    ) -> Result<Leadership, Error> {
        self.limits.check_key("the election name", name)?;
        self.limits.check_metadata("value", value.as_ref())?;
        let leadership_id = parse_leadership_id(name, leadership_id)?;
        let params =
            ProclaimParams { namespace: namespace.clone(), name: name.to_owned(), leadership_id, candidate, value };
        Ok(Leadership::from_holder(&namespace, self.store.proclaim(params).await?))
    }

    /// Keeps leadership alive for another TTL (the one it was won with, or `ttl`).
    pub async fn renew(
        &self,
        namespace: Namespace,
        name: &str,
        leadership_id: &str,
        candidate: String,
        ttl: Option<Duration>,
    ) -> Result<Leadership, Error> {
        self.limits.check_key("the election name", name)?;
        let leadership_id = parse_leadership_id(name, leadership_id)?;
        let ttl_ms = ttl.map(|ttl| check_ttl(ttl, self.limits.max_ttl)).transpose()?;
        let params = RenewParams {
            namespace: namespace.clone(),
            key: election_key(name),
            lock_id: leadership_id,
            owner: candidate,
            ttl_ms,
        };
        match self.store.renew(params).await {
            Ok(holder) => Ok(Leadership::from_holder(&namespace, holder)),
            Err(error) => Err(not_leader_for(error, name, leadership_id)),
        }
    }

    pub async fn resign(
        &self,
        namespace: Namespace,
        name: &str,
        leadership_id: &str,
        candidate: String,
    ) -> Result<(), Error> {
        self.limits.check_key("the election name", name)?;
        let leadership_id = parse_leadership_id(name, leadership_id)?;
        let params = ReleaseParams { namespace, key: election_key(name), lock_id: leadership_id, owner: candidate };
        self.store.resign(params).await.map_err(|error| not_leader_for(error, name, leadership_id))
    }

    pub async fn state(&self, namespace: &Namespace, name: &str) -> Result<ElectionState, Error> {
        self.limits.check_key("the election name", name)?;
        let status = self.store.status(namespace, &election_key(name)).await?;
        Ok(ElectionState {
            name: name.to_owned(),
            leader: status.holders.into_iter().next().map(|holder| Leadership::from_holder(namespace, holder)),
            candidates_waiting: status.waiters,
        })
    }

    /// The election's state now, then again each time its leader or the leader's value changes.
    ///
    /// Each report is read when the observer is woken, so changes quicker than that arrive merged into the latest
    /// state (as with a Consul blocking query): no report is older than the one before it.
    pub async fn observe(
        &self,
        namespace: Namespace,
        name: String,
    ) -> Result<impl Stream<Item = Result<ElectionState, Error>> + Send + use<>, Error> {
        self.limits.check_key("the election name", &name)?;
        let slot = self.slots.take()?;
        let watch = self.observers.watch((namespace.clone(), name.clone()));
        let observer =
            Observer { service: self.clone(), watch, namespace, name, last: None, failed: false, _slot: slot };
        Ok(futures::stream::unfold(observer, |mut observer| async move {
            if observer.failed {
                return None;
            }
            let state = observer.next_change().await;
            observer.failed = state.is_err();
            Some((state, observer))
        }))
    }
}

fn parse_leadership_id(name: &str, raw: &str) -> Result<LockId, Error> {
    LockId::parse(raw).ok_or_else(|| Error::NotLeader { name: name.to_owned(), leadership_id: raw.to_owned() })
}

/// A lock refusal, said as an election's.
fn not_leader_for(error: Error, name: &str, leadership_id: LockId) -> Error {
    match error {
        Error::LockNotHeld { .. } | Error::LockOwnerMismatch { .. } => {
            Error::NotLeader { name: name.to_owned(), leadership_id: leadership_id.to_string() }
        }
        other => other,
    }
}

/// One observer of an election: what it last reported, and its wake-up.
struct Observer {
    service: ElectionService,
    watch: Watch<(Namespace, String)>,
    namespace: Namespace,
    name: String,
    /// The leader and value last reported; `None` before the first report.
    last: Option<(Option<LockId>, Option<Value>)>,
    /// An error was reported: the stream ends.
    failed: bool,
    _slot: StreamSlot,
}

impl Observer {
    async fn next_change(&mut self) -> Result<ElectionState, Error> {
        loop {
            let woken = self.watch.notify.notified();
            tokio::pin!(woken);
            // Enabled before the read, so a change committed right after it still wakes us.
            woken.as_mut().enable();
            let state = self.service.state(&self.namespace, &self.name).await?;
            let seen =
                state.leader.as_ref().map_or((None, None), |leader| (Some(leader.leadership_id), leader.value.clone()));
            if self.last.as_ref() != Some(&seen) {
                self.last = Some(seen);
                return Ok(state);
            }
            // A leader that lapses with nobody in line changes nothing on the feed: the safety net sees it.
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(OBSERVE_SAFETY_NET) => {}
            }
        }
    }
}
