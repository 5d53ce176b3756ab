//! Claims and elections on SQLite: the claim and election rules over the lock statements, plus the done
//! records. Writes go through the writer (group commit), reads through the read-only connections.

use async_trait::async_trait;
use baton_core::claim::engine as claim_engine;
use baton_core::claim::engine::ClaimTx;
use baton_core::claim::{
    Claim, ClaimParams, ClaimState, ClaimStatus, ClaimStore, FinishClaimParams, ListClaimsParams, NextClaimParams,
    claim_key,
};
use baton_core::election::engine as election_engine;
use baton_core::election::{ElectionStore, ProclaimParams};
use baton_core::lock::{AcquireOutcome, AcquireParams, Holder, ReleaseParams};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::stored::{encode, encode_optional};
use baton_core::{Error, StoreError};
use futures::executor::block_on;
use rusqlite::params;

use crate::rows;
use crate::store::SqliteStore;
use crate::tx::SqliteTx;

impl ClaimTx for SqliteTx<'_> {
    async fn done_claims(&mut self, namespace: &Namespace, resources: &[&str]) -> Result<Vec<Claim>, StoreError> {
        self.query_all(
            include_str!("../queries/claim/done.sql"),
            params![namespace.as_str(), encode(resources)?],
            rows::done_claim,
        )
    }

    async fn insert_done(&mut self, claim: &Claim) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/claim/insert_done.sql"),
            params![
                claim.namespace.as_str(),
                claim.resource,
                claim.claim_id.to_string(),
                claim.owner,
                claim.fencing_token.0,
                claim.acquired_at.as_millis(),
                claim.done_at.map(|at| at.as_millis()),
                encode_optional(claim.metadata.as_ref())?,
            ],
        )?;
        Ok(())
    }

    /// The writer thread serialises every write: no other transaction can hold a key.
    async fn try_lock_key(&mut self, _namespace: &Namespace, _key: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[async_trait]
impl ClaimStore for SqliteStore {
    async fn claim(&self, params: ClaimParams) -> Result<Claim, Error> {
        self.writer.write(move |tx| block_on(claim_engine::claim(tx, &params))).await
    }

    async fn claim_next(&self, params: NextClaimParams) -> Result<Claim, Error> {
        self.writer.write(move |tx| block_on(claim_engine::next(tx, &params))).await
    }

    async fn finish_claim(&self, params: FinishClaimParams) -> Result<Claim, Error> {
        self.writer.write(move |tx| block_on(claim_engine::done(tx, &params))).await
    }

    async fn discard_claim(&self, params: FinishClaimParams) -> Result<Claim, Error> {
        self.writer.write(move |tx| block_on(claim_engine::discard(tx, &params))).await
    }

    async fn claim_status(&self, namespace: &Namespace, resource: &str) -> Result<ClaimStatus, Error> {
        let (namespace, resource) = (namespace.clone(), resource.to_owned());
        // One snapshot: a `done` committing between the reads of the done record and of the holders would show a
        // resource that went from held to done as free.
        self.readers.read_snapshot(move |tx| block_on(claim_engine::status(tx, &namespace, &resource))).await
    }

    /// One snapshot, for the same reason: a resource is never listed both held and done.
    async fn list_claims(&self, params: ListClaimsParams) -> Result<Page<Claim>, Error> {
        self.readers
            .read_snapshot(move |tx| {
                let overfetch = i64::from(params.limit) + 1;
                let prefix = params.prefix.clone().unwrap_or_default();
                let held = if params.state == Some(ClaimState::Done) {
                    Vec::new()
                } else {
                    let holders = tx.query_all(
                        include_str!("../queries/claim/list_held.sql"),
                        params![
                            params.namespace.as_str(),
                            claim_key(&prefix),
                            params.owner,
                            params.after.as_deref().map(claim_key),
                            tx.now.as_millis(),
                            overfetch
                        ],
                        rows::holder,
                    )?;
                    holders.into_iter().map(|holder| Claim::held(&params.namespace, holder)).collect()
                };
                let done = if params.state == Some(ClaimState::Held) {
                    Vec::new()
                } else {
                    tx.query_all(
                        include_str!("../queries/claim/list_done.sql"),
                        params![params.namespace.as_str(), params.prefix, params.after, params.owner, overfetch],
                        rows::done_claim,
                    )?
                };
                Ok(claim_engine::merge_listing(held, done, params.limit))
            })
            .await
    }
}

#[async_trait]
impl ElectionStore for SqliteStore {
    async fn campaign(&self, params: AcquireParams) -> Result<AcquireOutcome, Error> {
        self.writer.write(move |tx| block_on(election_engine::campaign(tx, &params))).await
    }

    async fn proclaim(&self, params: ProclaimParams) -> Result<Holder, Error> {
        self.writer.write(move |tx| block_on(election_engine::proclaim(tx, &params))).await
    }

    async fn resign(&self, params: ReleaseParams) -> Result<(), Error> {
        self.writer.write(move |tx| block_on(election_engine::resign(tx, &params))).await
    }
}
