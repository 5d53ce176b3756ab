//! Claims and elections on PostgreSQL: the claim and election rules over the lock statements, plus the done
//! records, each operation one transaction that begins holding the key's lock where it has one key.

use async_trait::async_trait;
use baton_core::claim::engine as claim_engine;
use baton_core::claim::engine::ClaimTx;
use baton_core::claim::{
    Claim, ClaimParams, ClaimState, ClaimStatus, ClaimStore, FinishClaimParams, ListClaimsParams, NextClaimParams,
    claim_key,
};
use baton_core::clock::Timestamp;
use baton_core::election::engine as election_engine;
use baton_core::election::{ElectionStore, ProclaimParams, election_key};
use baton_core::lock::{AcquireOutcome, AcquireParams, Holder, ReleaseParams};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use baton_core::stored::encode_optional;
use baton_core::{Error, StoreError};
use sqlx::{Row, query};

use crate::rows::{self, store_error};
use crate::store::PgStore;
use crate::tx::{PgTx, advisory_key};

impl ClaimTx for PgTx<'_> {
    async fn done_claims(&mut self, namespace: &Namespace, resources: &[&str]) -> Result<Vec<Claim>, StoreError> {
        let found = query(include_str!("../queries/claim/done.sql"))
            .bind(namespace.as_str())
            .bind(resources)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.iter().map(rows::done_claim).collect()
    }

    async fn insert_done(&mut self, claim: &Claim) -> Result<(), StoreError> {
        query(include_str!("../queries/claim/insert_done.sql"))
            .bind(claim.namespace.as_str())
            .bind(&claim.resource)
            .bind(claim.claim_id.to_string())
            .bind(&claim.owner)
            .bind(claim.fencing_token.0)
            .bind(claim.acquired_at.as_millis())
            .bind(claim.done_at.map(Timestamp::as_millis))
            .bind(encode_optional(claim.metadata.as_ref())?)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn try_lock_key(&mut self, namespace: &Namespace, key: &str) -> Result<bool, StoreError> {
        let row = query(include_str!("../queries/claim/try_lock_key.sql"))
            .bind(advisory_key(namespace, key))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        row.try_get(0).map_err(store_error)
    }
}

#[async_trait]
impl ClaimStore for PgStore {
    async fn claim(&self, params: ClaimParams) -> Result<Claim, Error> {
        let key_lock = advisory_key(&params.namespace, &claim_key(&params.resource));
        self.write_holding(key_lock, async |tx| claim_engine::claim(tx, &params).await).await
    }

    async fn claim_next(&self, params: NextClaimParams) -> Result<Claim, Error> {
        self.write(async |tx| claim_engine::next(tx, &params).await).await
    }

    async fn finish_claim(&self, params: FinishClaimParams) -> Result<Claim, Error> {
        let key_lock = advisory_key(&params.namespace, &claim_key(&params.resource));
        self.write_holding(key_lock, async |tx| claim_engine::done(tx, &params).await).await
    }

    async fn discard_claim(&self, params: FinishClaimParams) -> Result<Claim, Error> {
        let key_lock = advisory_key(&params.namespace, &claim_key(&params.resource));
        self.write_holding(key_lock, async |tx| claim_engine::discard(tx, &params).await).await
    }

    /// One snapshot: the done record and the holders are read apart, and a `done` committing between them would
    /// show a resource that went from held to done as free.
    async fn claim_status(&self, namespace: &Namespace, resource: &str) -> Result<ClaimStatus, Error> {
        self.read_snapshot(async |tx| claim_engine::status(tx, namespace, resource).await).await
    }

    /// One snapshot, for the same reason: a resource is never listed both held and done.
    async fn list_claims(&self, params: ListClaimsParams) -> Result<Page<Claim>, Error> {
        let test_now = self.test_now();
        self.read_snapshot(async |tx| list_claims(tx, &params, test_now).await).await
    }
}

/// Held claims (lapsed ones left out, by `test_now` or else the database clock) and done ones, merged by resource.
async fn list_claims(
    tx: &mut PgTx<'_>,
    params: &ListClaimsParams,
    test_now: Option<Timestamp>,
) -> Result<Page<Claim>, Error> {
    let overfetch = i64::from(params.limit) + 1;
    let held = if params.state == Some(ClaimState::Done) {
        Vec::new()
    } else {
        let statement = query(include_str!("../queries/claim/list_held.sql"))
            .bind(params.namespace.as_str())
            .bind(claim_key(params.prefix.as_deref().unwrap_or_default()))
            .bind(params.owner.as_deref())
            .bind(params.after.as_deref().map(claim_key))
            .bind(test_now.map(Timestamp::as_millis))
            .bind(overfetch);
        let found = statement.fetch_all(&mut *tx.conn).await.map_err(store_error)?;
        found
            .iter()
            .map(|row| rows::holder(row).map(|holder| Claim::held(&params.namespace, holder)))
            .collect::<Result<Vec<_>, _>>()?
    };
    let done = if params.state == Some(ClaimState::Held) {
        Vec::new()
    } else {
        let statement = query(include_str!("../queries/claim/list_done.sql"))
            .bind(params.namespace.as_str())
            .bind(params.prefix.as_deref())
            .bind(params.after.as_deref())
            .bind(params.owner.as_deref())
            .bind(overfetch);
        let found = statement.fetch_all(&mut *tx.conn).await.map_err(store_error)?;
        found.iter().map(rows::done_claim).collect::<Result<Vec<_>, _>>()?
    };
    Ok(claim_engine::merge_listing(held, done, params.limit))
}

#[async_trait]
impl ElectionStore for PgStore {
    async fn campaign(&self, params: AcquireParams) -> Result<AcquireOutcome, Error> {
        let key_lock = advisory_key(&params.namespace, &params.key);
        self.write_holding(key_lock, async |tx| election_engine::campaign(tx, &params).await).await
    }

    async fn proclaim(&self, params: ProclaimParams) -> Result<Holder, Error> {
        let key_lock = advisory_key(&params.namespace, &election_key(&params.name));
        self.write_holding(key_lock, async |tx| election_engine::proclaim(tx, &params).await).await
    }

    async fn resign(&self, params: ReleaseParams) -> Result<(), Error> {
        let key_lock = advisory_key(&params.namespace, &params.key);
        self.write_holding(key_lock, async |tx| election_engine::resign(tx, &params).await).await
    }
}
