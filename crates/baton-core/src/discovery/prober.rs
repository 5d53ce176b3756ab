//! Who runs the health checks: exactly one node of a cluster, the holder of the lock on [`prober_key`] (a
//! reserved key, so design §3's "dogfood the lock primitive"). Standby nodes wait in line for it, FIFO, so a
//! lapsed prober's successor is granted by the lock reaper as soon as its TTL runs out. On SQLite the one node
//! always holds it.
//!
//! It deliberately does not run checks: `baton_server::health_probe` does, with its network clients.

use std::sync::Arc;
use std::time::Duration;

use crate::discovery::model::prober_key;
use crate::error::Error;
use crate::lock::service::AcquireRequest;
use crate::lock::{FencingToken, LockId, LockService, ReleaseParams, RenewParams};
use crate::namespace::Namespace;
use crate::store::Store;

/// A node's seat in the prober election.
#[derive(Clone)]
pub struct ProberSeat {
    locks: LockService,
    store: Arc<dyn Store>,
    node: String,
    ttl: Duration,
}

/// This node runs the checks while it renews this in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProberTerm {
    pub lock_id: LockId,
    pub term: FencingToken,
}

impl ProberSeat {
    pub fn new(locks: LockService, store: Arc<dyn Store>, node: String, ttl: Duration) -> Self {
        Self { locks, store, node, ttl }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Becomes the prober, waiting in line up to `wait`; `None` when the wait ran out.
    pub async fn take(&self, wait: Duration) -> Result<Option<ProberTerm>, Error> {
        let request = AcquireRequest {
            namespace: Namespace::default(),
            key: prober_key(),
            owner: self.node.clone(),
            ttl: self.ttl,
            wait: Some(wait),
            permits: Some(1),
            lease_id: None,
            metadata: None,
        };
        match self.locks.acquire_through(request, |store, params| store.acquire(params)).await {
            Ok(holder) => Ok(Some(ProberTerm { lock_id: holder.lock_id, term: holder.fencing_token })),
            Err(Error::LockWaitTimeout { .. } | Error::LockHeld { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Keeps the seat for another TTL; an error means it is lost (or cannot be known to be held).
    pub async fn keep(&self, term: &ProberTerm) -> Result<(), Error> {
        let renew = RenewParams {
            namespace: Namespace::default(),
            key: prober_key(),
            lock_id: term.lock_id,
            owner: self.node.clone(),
            ttl_ms: None,
        };
        self.store.renew(renew).await.map(|_| ())
    }

    /// Steps down (at shutdown), so a standby takes over at once instead of after the TTL.
    pub async fn give_up(&self, term: &ProberTerm) {
        let release = ReleaseParams {
            namespace: Namespace::default(),
            key: prober_key(),
            lock_id: term.lock_id,
            owner: self.node.clone(),
        };
        if let Err(error) = self.store.release(release).await {
            tracing::debug!(%error, "releasing the prober seat failed; it lapses with its TTL");
        }
    }
}
