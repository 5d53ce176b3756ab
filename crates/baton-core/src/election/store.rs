//! The election half of the store port: the lock operations that announce a change of leadership. Renewing is
//! the lock's renew, and reading the leader the lock's status, on [`crate::election::election_key`].

use async_trait::async_trait;

use crate::election::model::ProclaimParams;
use crate::error::Error;
use crate::lock::{AcquireOutcome, AcquireParams, Holder, ReleaseParams};

#[async_trait]
pub trait ElectionStore: Send + Sync {
    /// Acquires the election's lock (queuing when `wait_ms` is set).
    async fn campaign(&self, params: AcquireParams) -> Result<AcquireOutcome, Error>;

    async fn proclaim(&self, params: ProclaimParams) -> Result<Holder, Error>;

    async fn resign(&self, params: ReleaseParams) -> Result<(), Error>;
}
