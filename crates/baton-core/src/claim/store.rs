//! The claim half of the store port. Renewing a claim is renewing its lock (`LockStore::renew` on
//! [`crate::claim::claim_key`]); everything that needs the done record is here.

use async_trait::async_trait;

use crate::claim::model::{Claim, ClaimParams, ClaimStatus, FinishClaimParams, ListClaimsParams, NextClaimParams};
use crate::error::Error;
use crate::namespace::Namespace;
use crate::page::Page;

#[async_trait]
pub trait ClaimStore: Send + Sync {
    async fn claim(&self, params: ClaimParams) -> Result<Claim, Error>;

    async fn claim_next(&self, params: NextClaimParams) -> Result<Claim, Error>;

    async fn finish_claim(&self, params: FinishClaimParams) -> Result<Claim, Error>;

    async fn discard_claim(&self, params: FinishClaimParams) -> Result<Claim, Error>;

    async fn claim_status(&self, namespace: &Namespace, resource: &str) -> Result<ClaimStatus, Error>;

    /// Held and done claims by resource name.
    async fn list_claims(&self, params: ListClaimsParams) -> Result<Page<Claim>, Error>;
}
