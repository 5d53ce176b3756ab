//! The store port: the per-feature traits composed into one, plus the change feed that carries wake-ups.
//!
//! **API boundary:** backends implement these traits and nothing else; services only ever hold a
//! `Arc<dyn Store>`.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::claim::ClaimStore;
use crate::discovery::DiscoveryStore;
use crate::election::ElectionStore;
use crate::error::StoreError;
use crate::event::{EventStore, GroupStore};
use crate::job::{JobId, JobStore, JobTypeStore, ScheduleStore};
use crate::lease::LeaseStore;
use crate::lock::{Holder, LockId, LockStore};
use crate::namespace::Namespace;
use crate::saga::SagaStore;
use crate::workflow::WorkflowStore;

/// Something that changed in the store and that a waiting caller, on this node or another, may care about.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// These queued waiters now hold their lock.
    WaitersGranted(Vec<Grant>),
    /// Jobs became available to fetch in this queue.
    JobsAvailable { namespace: Namespace, queue: String },
    /// These jobs of this queue left the running or waiting states: their results are in, and the queue has
    /// room for another under its concurrency limits.
    JobsFinished { namespace: Namespace, queue: String, job_ids: Vec<JobId> },
    /// Events were appended to this stream; the namespace's log now reaches `last_position`.
    EventsAppended { namespace: Namespace, stream: String, last_position: i64 },
    /// An election's leader, or the leader's value, changed.
    LeaderChanged { namespace: Namespace, name: String },
    /// A service's instances, or their health, changed: its modify index moved on.
    ServiceChanged { namespace: Namespace, service: String },
}

/// A queued waiter that now holds its lock.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub lock_id: LockId,
    /// The new holder, when the change comes from this process's own commit: the waiter answers with it and
    /// reads nothing. A grant heard from another node carries only the id.
    pub holder: Option<Arc<Holder>>,
}

impl Grant {
    /// A grant known only by its waiter's id.
    pub fn of(lock_id: LockId) -> Self {
        Self { lock_id, holder: None }
    }
}

/// What a follower of the change feed sees.
#[derive(Debug)]
pub enum Followed {
    Change(Change),
    /// Some changes were lost (the follower lagged): everyone waiting must look again, which is always correct.
    Lost,
}

/// Hands every change of `changes` to `on_change` until `shutdown` fires or the feed closes.
pub async fn follow_changes(
    mut changes: broadcast::Receiver<Change>,
    shutdown: CancellationToken,
    mut on_change: impl FnMut(Followed),
) {
    loop {
        let change = tokio::select! {
            change = changes.recv() => change,
            () = shutdown.cancelled() => return,
        };
        match change {
            Ok(change) => on_change(Followed::Change(change)),
            Err(broadcast::error::RecvError::Lagged(_)) => on_change(Followed::Lost),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The result of a write, plus the changes it made, to be published once the transaction commits so that
/// nobody is woken for a write that was rolled back.
#[derive(Debug)]
pub struct Applied<T> {
    pub value: T,
    pub changes: Vec<Change>,
}

impl<T> Applied<T> {
    /// A write that wakes nobody.
    pub fn quiet(value: T) -> Self {
        Self { value, changes: Vec::new() }
    }

    pub fn with(value: T, changes: Vec<Change>) -> Self {
        Self { value, changes }
    }

    /// A lock write that granted these waiters their locks.
    pub fn granting(value: T, granted: Vec<Holder>) -> Self {
        let grants: Vec<Grant> = granted
            .into_iter()
            .map(|holder| Grant { lock_id: holder.lock_id, holder: Some(Arc::new(holder)) })
            .collect();
        let changes = if grants.is_empty() { Vec::new() } else { vec![Change::WaitersGranted(grants)] };
        Self { value, changes }
    }
}

#[async_trait]
pub trait Store:
    LockStore
    + LeaseStore
    + ClaimStore
    + ElectionStore
    + JobStore
    + ScheduleStore
    + JobTypeStore
    + EventStore
    + GroupStore
    + DiscoveryStore
    + SagaStore
    + WorkflowStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`, for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Subscribes to changes committed by any node sharing this store. Delivery is best effort: a subscriber
    /// that lags must re-read the state it waits on (the services poll as a bounded safety net).
    fn changes(&self) -> broadcast::Receiver<Change>;
}
