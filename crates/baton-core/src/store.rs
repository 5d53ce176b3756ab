//! The store port: the per-feature traits composed into one, plus the change feed that carries wake-ups.
//!
//! **API boundary:** backends implement these traits and nothing else; services only ever hold a
//! `Arc<dyn Store>`.

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::error::StoreError;
use crate::lease::LeaseStore;
use crate::lock::{LockId, LockStore};

/// Something that changed in the store and that a waiting caller, on this node or another, may care about.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// These queued waiters now hold their lock.
    WaitersGranted(Vec<LockId>),
}

#[async_trait]
pub trait Store: LockStore + LeaseStore + Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/ready`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the store answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Subscribes to changes committed by any node sharing this store. Delivery is best effort: a subscriber
    /// that lags must re-read the state it waits on (the services poll as a bounded safety net).
    fn changes(&self) -> broadcast::Receiver<Change>;
}
