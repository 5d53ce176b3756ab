//! The lock half of the store port. Each method is one atomic store operation; a backend may commit several
//! callers' operations in one transaction (design.md §5), but never lets one caller's failure fail another's.

use async_trait::async_trait;

use crate::error::Error;
use crate::lock::model::{
    AcquireOutcome, AcquireParams, ExpiryReport, Holder, ListLocksParams, LockId, LockStatus, ReleaseParams,
    RenewParams, WaiterState,
};
use crate::namespace::Namespace;
use crate::page::Page;

#[async_trait]
pub trait LockStore: Send + Sync {
    /// Grants the lock, reports its holders, or queues the caller when `wait_ms` is set.
    async fn acquire(&self, params: AcquireParams) -> Result<AcquireOutcome, Error>;

    /// Releases one grant and hands the freed permits to the oldest waiters in the same transaction.
    async fn release(&self, params: ReleaseParams) -> Result<(), Error>;

    async fn renew(&self, params: RenewParams) -> Result<Holder, Error>;

    async fn waiter_state(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<WaiterState, Error>;

    /// Withdraws a waiter. Returns its grant if it was granted meanwhile, so the caller can keep or release it.
    async fn cancel_wait(&self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<Option<Holder>, Error>;

    async fn status(&self, namespace: &Namespace, key: &str) -> Result<LockStatus, Error>;

    async fn list(&self, params: ListLocksParams) -> Result<Page<Holder>, Error>;

    /// Removes lapsed holders, leases and waiters (up to `max_keys` keys) and grants the waiters they free.
    async fn expire_due(&self, max_keys: u32) -> Result<ExpiryReport, Error>;
}
