//! The claim service: validates requests and calls the store. Claims never wait: a held or done resource is
//! answered at once, so a worker moves on to the next one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::claim::model::{
    Claim, ClaimParams, ClaimState, ClaimStatus, FinishClaimParams, ListClaimsParams, NextClaimParams, claim_key,
};
use crate::error::{Error, ErrorCode};
use crate::limits::Limits;
use crate::lock::service::check_ttl;
use crate::lock::{LockId, RenewParams};
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};
use crate::store::Store;

#[derive(Clone, Debug)]
pub struct ClaimRequest {
    pub namespace: Namespace,
    pub resource: String,
    pub owner: String,
    pub ttl: Duration,
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct NextClaimRequest {
    pub namespace: Namespace,
    pub candidates: Vec<String>,
    pub owner: String,
    pub ttl: Duration,
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug, Default)]
pub struct ListClaimsRequest {
    pub namespace: Namespace,
    pub state: Option<ClaimState>,
    pub owner: Option<String>,
    pub prefix: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone)]
pub struct ClaimService {
    store: Arc<dyn Store>,
    limits: Limits,
}

impl ClaimService {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self { store, limits }
    }

    pub async fn claim(&self, request: ClaimRequest) -> Result<Claim, Error> {
        self.limits.check_key("resource", &request.resource)?;
        self.limits.check_owner("owner", &request.owner)?;
        self.limits.check_metadata("metadata", request.metadata.as_ref())?;
        let params = ClaimParams {
            namespace: request.namespace,
            resource: request.resource,
            claim_id: LockId::new(),
            owner: request.owner,
            ttl_ms: check_ttl(request.ttl, self.limits.max_ttl)?,
            metadata: request.metadata,
        };
        self.store.claim(params).await
    }

    pub async fn next(&self, request: NextClaimRequest) -> Result<Claim, Error> {
        if request.candidates.is_empty() {
            return Err(Error::invalid(ErrorCode::BatchTooLarge, "candidates must name at least one resource"));
        }
        self.limits.check_batch(request.candidates.len())?;
        for candidate in &request.candidates {
            self.limits.check_key("resource", candidate)?;
        }
        self.limits.check_owner("owner", &request.owner)?;
        self.limits.check_metadata("metadata", request.metadata.as_ref())?;
        let params = NextClaimParams {
            namespace: request.namespace,
            candidates: request.candidates,
            claim_id: LockId::new(),
            owner: request.owner,
            ttl_ms: check_ttl(request.ttl, self.limits.max_ttl)?,
            metadata: request.metadata,
        };
        self.store.claim_next(params).await
    }

    pub async fn renew(
        &self,
        namespace: Namespace,
        resource: &str,
        claim_id: &str,
        owner: String,
        ttl: Option<Duration>,
    ) -> Result<Claim, Error> {
        self.limits.check_key("resource", resource)?;
        let claim_id = parse_claim_id(resource, claim_id)?;
        let ttl_ms = ttl.map(|ttl| check_ttl(ttl, self.limits.max_ttl)).transpose()?;
        let params =
            RenewParams { namespace: namespace.clone(), key: claim_key(resource), lock_id: claim_id, owner, ttl_ms };
        match self.store.renew(params).await {
            Ok(holder) => Ok(Claim::held(&namespace, holder)),
            Err(Error::LockNotHeld { .. } | Error::LockOwnerMismatch { .. }) => {
                Err(Error::ClaimNotHeld { resource: resource.to_owned(), claim_id: claim_id.to_string() })
            }
            Err(other) => Err(other),
        }
    }

    /// Marks the claim done, merging `metadata` into the claim's, and releases it for good.
    pub async fn done(
        &self,
        namespace: Namespace,
        resource: &str,
        claim_id: &str,
        owner: String,
        metadata: Option<Value>,
    ) -> Result<Claim, Error> {
        self.limits.check_metadata("metadata", metadata.as_ref())?;
        let params = self.finish_params(namespace, resource, claim_id, owner, metadata)?;
        self.store.finish_claim(params).await
    }

    /// Releases the claim without marking it done.
    pub async fn discard(
        &self,
        namespace: Namespace,
        resource: &str,
        claim_id: &str,
        owner: String,
    ) -> Result<Claim, Error> {
        let params = self.finish_params(namespace, resource, claim_id, owner, None)?;
        self.store.discard_claim(params).await
    }

    fn finish_params(
        &self,
        namespace: Namespace,
        resource: &str,
        claim_id: &str,
        owner: String,
        metadata: Option<Value>,
    ) -> Result<FinishClaimParams, Error> {
        self.limits.check_key("resource", resource)?;
        let claim_id = parse_claim_id(resource, claim_id)?;
        Ok(FinishClaimParams { namespace, resource: resource.to_owned(), claim_id, owner, metadata })
    }

    pub async fn status(&self, namespace: &Namespace, resource: &str) -> Result<ClaimStatus, Error> {
        self.limits.check_key("resource", resource)?;
        self.store.claim_status(namespace, resource).await
    }

    pub async fn list(&self, request: ListClaimsRequest) -> Result<Page<Claim>, Error> {
        let limit = page_size(request.limit)?;
        let after = match request.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(decode_cursor(cursor, 1)?.remove(0)),
        };
        if let Some(prefix) = &request.prefix
            && prefix.len() > self.limits.max_key_bytes
        {
            return Err(Error::invalid(ErrorCode::KeyTooLong, "prefix is longer than the longest resource name"));
        }
        let params = ListClaimsParams {
            namespace: request.namespace,
            state: request.state,
            owner: request.owner,
            prefix: request.prefix.filter(|prefix| !prefix.is_empty()),
            after,
            limit,
        };
        self.store.list_claims(params).await
    }
}

/// Text that is not a claim id names no claim this owner holds.
fn parse_claim_id(resource: &str, raw: &str) -> Result<LockId, Error> {
    LockId::parse(raw).ok_or_else(|| Error::ClaimNotHeld { resource: resource.to_owned(), claim_id: raw.to_owned() })
}
