//! The lease half of the store port.

use async_trait::async_trait;

use crate::error::Error;
use crate::lease::Lease;
use crate::lock::LeaseId;
use crate::namespace::Namespace;

#[async_trait]
pub trait LeaseStore: Send + Sync {
    async fn grant_lease(&self, namespace: &Namespace, lease_id: LeaseId, ttl_ms: i64) -> Result<Lease, Error>;

    /// Extends a live lease by its TTL. A lapsed or unknown lease is `LeaseNotFound`: it cannot be revived.
    async fn keepalive_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error>;

    /// Deletes the lease and releases every lock bound to it, waking their waiters.
    async fn revoke_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), Error>;

    async fn get_lease(&self, namespace: &Namespace, lease_id: LeaseId) -> Result<Lease, Error>;
}
