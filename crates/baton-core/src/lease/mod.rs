//! Leases: a TTL kept alive by its owner that any number of locks can be bound to, as in etcd. Revoking or
//! losing a lease releases every lock bound to it at once.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::lock::LeaseId;

pub mod service;
pub mod store;

pub use service::LeaseService;
pub use store::LeaseStore;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lease {
    pub lease_id: LeaseId,
    pub ttl_ms: i64,
    pub granted_at: Timestamp,
    pub expires_at: Timestamp,
}
