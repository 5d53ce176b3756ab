//! The lease service: validation around the lease store.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::lease::Lease;
use crate::limits::Limits;
use crate::lock::LeaseId;
use crate::lock::service::check_ttl;
use crate::namespace::Namespace;
use crate::store::Store;

#[derive(Clone)]
pub struct LeaseService {
    store: Arc<dyn Store>,
    limits: Limits,
}

impl LeaseService {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self { store, limits }
    }

    pub async fn grant(&self, namespace: &Namespace, ttl: Duration) -> Result<Lease, Error> {
        let ttl_ms = check_ttl(ttl, self.limits.max_ttl)?;
        self.store.grant_lease(namespace, LeaseId::new(), ttl_ms).await
    }

    pub async fn keepalive(&self, namespace: &Namespace, lease_id: &str) -> Result<Lease, Error> {
        self.store.keepalive_lease(namespace, parse_lease_id(lease_id)?).await
    }

    pub async fn revoke(&self, namespace: &Namespace, lease_id: &str) -> Result<(), Error> {
        self.store.revoke_lease(namespace, parse_lease_id(lease_id)?).await
    }

    pub async fn get(&self, namespace: &Namespace, lease_id: &str) -> Result<Lease, Error> {
        self.store.get_lease(namespace, parse_lease_id(lease_id)?).await
    }
}

/// Parses a lease id; text that is not one names no lease, so it is `LeaseNotFound` like an unknown id.
pub fn parse_lease_id(raw: &str) -> Result<LeaseId, Error> {
    LeaseId::parse(raw).ok_or_else(|| Error::LeaseNotFound { lease_id: raw.to_owned() })
}
