//! The claim rules, written once for every backend: a claim is the lock on its resource's reserved key, plus a
//! done record that stops the resource from ever being granted again.
//!
//! **Invariant:** the done check and the grant happen under the resource key's lock ([`LockTx::lock_key`]),
//! and marking done writes the record and releases the holder under that same lock, so no grant can slip in
//! between a done and its check.

use std::collections::HashSet;

use crate::claim::model::{
    Claim, ClaimParams, ClaimState, FinishClaimParams, NextClaimParams, claim_key, merge_metadata,
};
use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::lock::engine::{self as lock_engine, LockTx, SettledKey};
use crate::lock::{AcquireOutcome, AcquireParams, Holder, LockId, ReleaseParams};
use crate::namespace::Namespace;
use crate::store::Applied;

/// The statements claims add to a backend's lock statements.
#[allow(async_fn_in_trait)]
pub trait ClaimTx: LockTx {
    /// The done records of these resources.
    async fn done_claims(&mut self, namespace: &Namespace, resources: &[&str]) -> Result<Vec<Claim>, StoreError>;
    async fn insert_done(&mut self, claim: &Claim) -> Result<(), StoreError>;
    /// Takes the key's lock only if no other transaction holds it; says whether it did.
    async fn try_lock_key(&mut self, namespace: &Namespace, key: &str) -> Result<bool, StoreError>;
}

fn acquire_params(
    namespace: &Namespace,
    resource: &str,
    claim_id: LockId,
    owner: &str,
    ttl_ms: i64,
    metadata: Option<&serde_json::Value>,
) -> AcquireParams {
    AcquireParams {
        namespace: namespace.clone(),
        key: claim_key(resource),
        lock_id: claim_id,
        owner: owner.to_owned(),
        ttl_ms,
        permits: 1,
        lease_id: None,
        metadata: metadata.cloned(),
        wait_ms: None,
        max_waiters: 0,
    }
}

fn done_error(claim: Claim) -> Error {
    Error::ClaimDone {
        resource: claim.resource,
        owner: claim.owner,
        done_at: claim.done_at.unwrap_or(claim.acquired_at),
    }
}

/// Grants the claim, or says who holds it or that it is done. The resource's key must be locked.
async fn grant<T: ClaimTx>(tx: &mut T, params: AcquireParams, resource: &str) -> Result<Applied<Claim>, Error> {
    let namespace = params.namespace.clone();
    if let Some(done) = tx.done_claims(&namespace, &[resource]).await?.pop() {
        return Err(done_error(done));
    }
    let applied = lock_engine::acquire(tx, &params).await?;
    match applied.value {
        AcquireOutcome::Granted(holder) => Ok(Applied::with(Claim::held(&namespace, holder), applied.changes)),
        AcquireOutcome::Held(holders) => {
            let holder = holders.into_iter().next();
            Err(Error::ClaimHeld {
                resource: resource.to_owned(),
                owner: holder.as_ref().map(|holder| holder.owner.clone()).unwrap_or_default(),
                expires_at: holder.map_or(Timestamp(0), |holder| holder.expires_at),
            })
        }
        AcquireOutcome::Queued { .. } => Err(Error::Store(StoreError::Internal("a claim never waits".into()))),
    }
}

pub async fn claim<T: ClaimTx>(tx: &mut T, params: &ClaimParams) -> Result<Applied<Claim>, Error> {
    let acquire = acquire_params(
        &params.namespace,
        &params.resource,
        params.claim_id,
        &params.owner,
        params.ttl_ms,
        params.metadata.as_ref(),
    );
    tx.lock_key(&params.namespace, &acquire.key).await?;
    grant(tx, acquire, &params.resource).await
}

/// Claims the first candidate that is neither held nor done. A candidate another transaction is working on right
/// now is skipped rather than waited for, so workers sharing a list never queue behind each other.
pub async fn next<T: ClaimTx>(tx: &mut T, params: &NextClaimParams) -> Result<Applied<Claim>, Error> {
    let names: Vec<&str> = params.candidates.iter().map(String::as_str).collect();
    let done: HashSet<String> =
        tx.done_claims(&params.namespace, &names).await?.into_iter().map(|claim| claim.resource).collect();
    let (mut held, mut busy) = (0, 0);
    for resource in &params.candidates {
        if done.contains(resource) {
            continue;
        }
        let acquire = acquire_params(
            &params.namespace,
            resource,
            params.claim_id,
            &params.owner,
            params.ttl_ms,
            params.metadata.as_ref(),
        );
        if !tx.try_lock_key(&params.namespace, &acquire.key).await? {
            busy += 1;
            continue;
        }
        match grant(tx, acquire, resource).await {
            Ok(claim) => return Ok(claim),
            // Done or held meanwhile (checked again under the key's lock): on to the next.
            Err(Error::ClaimDone { .. } | Error::ClaimHeld { .. }) => held += 1,
            Err(other) => return Err(other),
        }
    }
    Err(Error::NoClaimAvailable { candidates: params.candidates.len(), done: done.len(), held: held + busy })
}

/// The resource's holder under `claim_id` among its live `holders`, checked against `owner`.
fn held_by(params: &FinishClaimParams, holders: &[Holder]) -> Result<Claim, Error> {
    let not_held = || Error::ClaimNotHeld { resource: params.resource.clone(), claim_id: params.claim_id.to_string() };
    let holder = holders.iter().find(|holder| holder.lock_id == params.claim_id).ok_or_else(not_held)?;
    if holder.owner != params.owner {
        return Err(not_held());
    }
    Ok(Claim::held(&params.namespace, holder.clone()))
}

/// Releases the claim's hold, given the key's settled snapshot in which [`held_by`] found it.
async fn release_held<T: ClaimTx>(
    tx: &mut T,
    params: &FinishClaimParams,
    key: String,
    settled: SettledKey,
) -> Result<Applied<()>, Error> {
    let release = ReleaseParams {
        namespace: params.namespace.clone(),
        key,
        lock_id: params.claim_id,
        owner: params.owner.clone(),
    };
    lock_engine::release_from(tx, &release, settled).await
}

/// Marks the claim done (merging `params.metadata` into the claim's) and releases it. Repeating a done that
/// succeeded answers with the done record.
pub async fn done<T: ClaimTx>(tx: &mut T, params: &FinishClaimParams) -> Result<Applied<Claim>, Error> {
    let key = claim_key(&params.resource);
    tx.lock_key(&params.namespace, &key).await?;
    // One read of the key serves the check and the release. A held resource is never done (marking done
    // releases it), so the done record is read only when the claim is not held: for a repeated done.
    let settled = lock_engine::settled_snapshot(tx, &params.namespace, &key).await?;
    let mut claim = match held_by(params, &settled.holders) {
        Ok(claim) => claim,
        Err(not_held) => {
            return match tx.done_claims(&params.namespace, &[params.resource.as_str()]).await?.pop() {
                Some(done) if done.claim_id == params.claim_id && done.owner == params.owner => {
                    Ok(Applied::quiet(done))
                }
                Some(done) => Err(done_error(done)),
                None => Err(not_held),
            };
        }
    };
    claim.metadata = merge_metadata(claim.metadata.take(), params.metadata.clone());
    claim.done_at = Some(tx.now().await?);
    claim.expires_at = None;
    claim.state = ClaimState::Done;
    tx.insert_done(&claim).await?;
    let released = release_held(tx, params, key, settled).await?;
    Ok(Applied::with(claim, released.changes))
}

/// Releases the claim without marking it done: the resource can be claimed again.
pub async fn discard<T: ClaimTx>(tx: &mut T, params: &FinishClaimParams) -> Result<Applied<Claim>, Error> {
    let key = claim_key(&params.resource);
    tx.lock_key(&params.namespace, &key).await?;
    let settled = lock_engine::settled_snapshot(tx, &params.namespace, &key).await?;
    let claim = held_by(params, &settled.holders)?;
    let released = release_held(tx, params, key, settled).await?;
    Ok(Applied::with(claim, released.changes))
}

/// Done, held or free, as a reader sees it.
pub async fn status<T: ClaimTx>(
    tx: &mut T,
    namespace: &Namespace,
    resource: &str,
) -> Result<crate::claim::model::ClaimStatus, Error> {
    use crate::claim::model::ClaimStatus;
    if let Some(done) = tx.done_claims(namespace, &[resource]).await?.pop() {
        return Ok(ClaimStatus::Done(done));
    }
    let now = tx.now().await?;
    let holders = tx.key_snapshot(namespace, &claim_key(resource)).await?.live_holders(now);
    Ok(holders.into_iter().next().map_or(ClaimStatus::Free, |holder| ClaimStatus::Held(Claim::held(namespace, holder))))
}

/// One page of a listing from its held and its done claims (each read `limit + 1` past the cursor, by
/// resource): a resource is never both, so the two merge by name.
pub fn merge_listing(mut held: Vec<Claim>, done: Vec<Claim>, limit: u32) -> crate::page::Page<Claim> {
    held.extend(done);
    held.sort_by(|a, b| a.resource.cmp(&b.resource));
    crate::page::Page::from_overfetch(held, limit, |claim| vec![claim.resource.clone()])
}
