//! The lock rules, written once for every backend: who is granted, who waits, who is woken.
//!
//! A backend opens a transaction, wraps it in a type that implements [`LockTx`] (one small statement per
//! method, from its `.sql` files) and calls these functions. They never commit: the backend does, and only
//! then publishes the returned wake-ups, so a waiter is never woken for a grant that was rolled back.
//!
//! **Invariant:** every function that can grant takes the key's serialisation point first
//! ([`LockTx::lock_key`]), so at most `permits` live holders exist per key and fencing tokens, drawn from one
//! durable counter under that point, increase strictly per key.

use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::lock::model::{
    AcquireOutcome, AcquireParams, FencingToken, Holder, LeaseId, LockId, LockStatus, ReleaseParams, RenewParams,
    WaiterState,
};
use crate::namespace::Namespace;
use crate::store::Applied;

/// A queued caller, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiter {
    pub namespace: Namespace,
    pub key: String,
    pub lock_id: LockId,
    pub owner: String,
    pub ttl_ms: i64,
    pub permits: u32,
    pub lease_id: Option<LeaseId>,
    pub metadata: Option<Value>,
    pub deadline: Timestamp,
}

/// A holder about to be inserted; the backend draws its fencing token.
#[derive(Clone, Debug)]
pub struct NewHolder<'a> {
    pub namespace: &'a Namespace,
    pub key: &'a str,
    pub lock_id: LockId,
    pub owner: &'a str,
    pub ttl_ms: i64,
    pub permits: u32,
    pub lease_id: Option<LeaseId>,
    pub metadata: Option<&'a Value>,
    pub acquired_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// The statements a backend offers inside one transaction. "Live" means not lapsed at [`LockTx::now`]: a
/// holder's own expiry, or for a lease-bound holder its lease's.
#[allow(async_fn_in_trait)]
pub trait LockTx {
    /// The instant this transaction decides expiry with (process clock or database clock). A backend may
    /// read it lazily, or along with [`LockTx::lock_key`], but returns the same value for the whole transaction.
    async fn now(&mut self) -> Result<Timestamp, StoreError>;
    /// Serialises every operation on this key until the transaction ends.
    async fn lock_key(&mut self, namespace: &Namespace, key: &str) -> Result<(), StoreError>;
    /// Deletes the key's lapsed holders and waiters; returns the holders it deleted. A backend may keep a holder
    /// the key's snapshot showed lapsed, if another node is keeping its lease alive at that moment.
    async fn purge_expired(&mut self, namespace: &Namespace, key: &str) -> Result<Vec<LockId>, StoreError>;
    /// The key's holders and waiter counts, read in one statement: the hot paths' only read.
    async fn key_snapshot(&mut self, namespace: &Namespace, key: &str) -> Result<KeySnapshot, StoreError>;
    async fn has_waiter(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<bool, StoreError>;
    /// The live waiter queued first.
    async fn oldest_waiter(&mut self, namespace: &Namespace, key: &str) -> Result<Option<Waiter>, StoreError>;
    async fn insert_waiter(&mut self, waiter: &Waiter) -> Result<(), StoreError>;
    /// Returns whether a waiter was deleted.
    async fn delete_waiter(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<bool, StoreError>;
    /// Inserts a holder with a freshly drawn fencing token, and returns the token.
    async fn insert_holder(&mut self, holder: &NewHolder<'_>) -> Result<FencingToken, StoreError>;
    async fn delete_holder(&mut self, namespace: &Namespace, key: &str, lock_id: LockId) -> Result<(), StoreError>;
    /// Moves a live holder's expiry. Returns false if the holder is no longer live.
    async fn set_holder_expiry(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lock_id: LockId,
        ttl_ms: i64,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;
    /// The lease's expiry, if it is live.
    async fn lease_expiry(&mut self, namespace: &Namespace, lease_id: LeaseId)
    -> Result<Option<Timestamp>, StoreError>;
    /// Replaces a holder's metadata (an election's value). Returns false if there is no such holder.
    async fn set_holder_metadata(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lock_id: LockId,
        metadata: Option<&Value>,
    ) -> Result<bool, StoreError>;
}

/// One key at a glance, as [`LockTx::key_snapshot`] reads it.
#[derive(Clone, Debug, Default)]
pub struct KeySnapshot {
    /// Every stored holder, lapsed or not, oldest grant first.
    pub holders: Vec<Holder>,
    pub live_waiters: u64,
    pub lapsed_waiters: u64,
}

impl KeySnapshot {
    /// The holders still live at `now`.
    pub fn live_holders(&self, now: Timestamp) -> Vec<Holder> {
        self.holders.iter().filter(|h| h.expires_at > now).cloned().collect()
    }

    /// Whether anything on the key lapsed and should be purged before the key is acted on.
    pub fn has_lapsed(&self, now: Timestamp) -> bool {
        self.lapsed_waiters > 0 || self.holders.iter().any(|h| h.expires_at <= now)
    }
}

/// The statements expiry and lease revocation need on top of [`LockTx`].
#[allow(async_fn_in_trait)]
pub trait ExpiryTx: LockTx {
    /// Deletes up to `limit` holders that lapsed on their own TTL on keys without waiters, the longest lapsed
    /// first, each under its key's lock; says how many. Such a holder owes no one a grant.
    async fn purge_lapsed_unwaited(&mut self, limit: u32) -> Result<usize, StoreError>;
    /// Keys with a lapsed holder or waiter, in `(namespace, key)` order so concurrent passes never deadlock.
    async fn due_keys(&mut self, limit: u32) -> Result<Vec<(Namespace, String)>, StoreError>;
    /// Keys with holders bound to the lease, sorted.
    async fn lease_keys(&mut self, namespace: &Namespace, lease_id: LeaseId) -> Result<Vec<String>, StoreError>;
    async fn delete_lease_holders(
        &mut self,
        namespace: &Namespace,
        key: &str,
        lease_id: LeaseId,
    ) -> Result<(), StoreError>;
    async fn delete_lease(&mut self, namespace: &Namespace, lease_id: LeaseId) -> Result<(), StoreError>;
    async fn delete_expired_leases(&mut self) -> Result<(), StoreError>;
    /// The earliest instant at which a holder, lease or waiter lapses.
    async fn next_due(&mut self) -> Result<Option<Timestamp>, StoreError>;
}

pub async fn acquire<T: LockTx>(tx: &mut T, params: &AcquireParams) -> Result<Applied<AcquireOutcome>, Error> {
    let (namespace, key) = (&params.namespace, params.key.as_str());
    tx.lock_key(namespace, key).await?;
    let lease_expiry = match params.lease_id {
        Some(lease_id) => Some(
            tx.lease_expiry(namespace, lease_id)
                .await?
                .ok_or_else(|| Error::LeaseNotFound { lease_id: lease_id.to_string() })?,
        ),
        None => None,
    };
    let SettledKey { mut holders, mut waiting } = settled_snapshot(tx, namespace, key).await?;
    if let Some(current) = holders.first()
        && current.permits != params.permits
    {
        return Err(Error::PermitsMismatch {
            key: key.to_owned(),
            held_with: current.permits,
            requested: params.permits,
        });
    }
    // Permits freed by a lapse the reaper has not handled yet belong to the waiters, not to this newcomer.
    let mut woken = Vec::new();
    let capacity = holders.first().map_or(params.permits, |h| h.permits);
    if waiting > 0 && (holders.len() as u64) < u64::from(capacity) {
        woken = grant_waiters(tx, namespace, key, &holders).await?;
        SettledKey { holders, waiting } = settled_snapshot(tx, namespace, key).await?;
    }
    let now = tx.now().await?;

    if waiting == 0 && (holders.len() as u64) < u64::from(params.permits) {
        let holder = NewHolder {
            namespace,
            key,
            lock_id: params.lock_id,
            owner: &params.owner,
            ttl_ms: params.ttl_ms,
            permits: params.permits,
            lease_id: params.lease_id,
            metadata: params.metadata.as_ref(),
            acquired_at: now,
            expires_at: expiry_for(now, params.ttl_ms, params.lease_id),
        };
        let fencing_token = tx.insert_holder(&holder).await?;
        let granted = holder.into_holder(fencing_token, lease_expiry);
        return Ok(Applied::granting(AcquireOutcome::Granted(granted), woken));
    }

    let Some(wait_ms) = params.wait_ms else {
        return Ok(Applied::granting(AcquireOutcome::Held(holders), woken));
    };
    if waiting >= u64::from(params.max_waiters) {
        return Err(Error::TooManyWaiters { key: key.to_owned(), limit: params.max_waiters });
    }
    let waiter = Waiter {
        namespace: namespace.clone(),
        key: key.to_owned(),
        lock_id: params.lock_id,
        owner: params.owner.clone(),
        ttl_ms: params.ttl_ms,
        permits: params.permits,
        lease_id: params.lease_id,
        metadata: params.metadata.clone(),
        deadline: Timestamp(now.as_millis().saturating_add(wait_ms)),
    };
    tx.insert_waiter(&waiter).await?;
    let next_lapse_ms = holders.iter().map(|h| h.expires_at.as_millis().saturating_sub(now.as_millis()).max(0)).min();
    Ok(Applied::granting(AcquireOutcome::Queued { next_lapse_ms }, woken))
}

/// Whether an acquire's caller, or a waiter it woke, learns of a grant: only then must its commit be on disk
/// before anyone is answered. A waiter queued is answered by the grant that comes later, whose commit carries the
/// queueing to disk too; a refusal reveals holders that were made durable when they were granted.
pub fn reveals_a_grant(applied: &Applied<AcquireOutcome>) -> bool {
    matches!(applied.value, AcquireOutcome::Granted(_)) || !applied.changes.is_empty()
}

pub async fn release<T: LockTx>(tx: &mut T, params: &ReleaseParams) -> Result<Applied<()>, Error> {
    tx.lock_key(&params.namespace, &params.key).await?;
    let settled = settled_snapshot(tx, &params.namespace, &params.key).await?;
    release_from(tx, params, settled).await
}

/// [`release`], given the key's [`settled_snapshot`], taken under the key's lock in this transaction.
pub async fn release_from<T: LockTx>(
    tx: &mut T,
    params: &ReleaseParams,
    SettledKey { mut holders, waiting }: SettledKey,
) -> Result<Applied<()>, Error> {
    let (namespace, key) = (&params.namespace, params.key.as_str());
    let position = holders
        .iter()
        .position(|h| h.lock_id == params.lock_id)
        .ok_or_else(|| Error::LockNotHeld { key: key.to_owned(), lock_id: params.lock_id.to_string() })?;
    if holders[position].owner != params.owner {
        return Err(Error::LockOwnerMismatch { key: key.to_owned(), lock_id: params.lock_id.to_string() });
    }
    tx.delete_holder(namespace, key, params.lock_id).await?;
    holders.remove(position);
    let woken = if waiting > 0 { grant_waiters(tx, namespace, key, &holders).await? } else { Vec::new() };
    Ok(Applied::granting((), woken))
}

pub async fn renew<T: LockTx>(tx: &mut T, params: &RenewParams) -> Result<Holder, Error> {
    let (namespace, key) = (&params.namespace, params.key.as_str());
    let not_held = || Error::LockNotHeld { key: key.to_owned(), lock_id: params.lock_id.to_string() };
    let holders = tx.key_snapshot(namespace, key).await?.live_holders(tx.now().await?);
    let mut holder = holders.into_iter().find(|h| h.lock_id == params.lock_id).ok_or_else(not_held)?;
    if holder.owner != params.owner {
        return Err(Error::LockOwnerMismatch { key: key.to_owned(), lock_id: params.lock_id.to_string() });
    }
    if let Some(lease_id) = holder.lease_id {
        return Err(Error::LockLeaseBound { key: key.to_owned(), lease_id: lease_id.to_string() });
    }
    let ttl_ms = params.ttl_ms.unwrap_or(holder.ttl_ms);
    let expires_at = Timestamp(tx.now().await?.as_millis().saturating_add(ttl_ms));
    if !tx.set_holder_expiry(namespace, key, params.lock_id, ttl_ms, expires_at).await? {
        return Err(not_held());
    }
    holder.ttl_ms = ttl_ms;
    holder.expires_at = expires_at;
    Ok(holder)
}

pub async fn waiter_state<T: LockTx>(
    tx: &mut T,
    namespace: &Namespace,
    key: &str,
    lock_id: LockId,
) -> Result<WaiterState, Error> {
    // The waiter first, then the holders: a read outside a transaction sees each statement's own snapshot, and
    // a grant deletes the waiter and inserts the holder at once. Asked the other way round, a grant committed
    // between the two reads would look like neither, and the caller would give up while holding the lock.
    if tx.has_waiter(namespace, key, lock_id).await? {
        return Ok(WaiterState::Waiting);
    }
    let holders = tx.key_snapshot(namespace, key).await?.live_holders(tx.now().await?);
    if let Some(holder) = holders.into_iter().find(|h| h.lock_id == lock_id) {
        return Ok(WaiterState::Granted(holder));
    }
    Ok(WaiterState::Gone)
}

pub async fn cancel_wait<T: LockTx>(
    tx: &mut T,
    namespace: &Namespace,
    key: &str,
    lock_id: LockId,
) -> Result<Option<Holder>, Error> {
    tx.lock_key(namespace, key).await?;
    if tx.delete_waiter(namespace, key, lock_id).await? {
        return Ok(None);
    }
    let holders = tx.key_snapshot(namespace, key).await?.live_holders(tx.now().await?);
    Ok(holders.into_iter().find(|h| h.lock_id == lock_id))
}

pub async fn status<T: LockTx>(tx: &mut T, namespace: &Namespace, key: &str) -> Result<LockStatus, Error> {
    let snapshot = tx.key_snapshot(namespace, key).await?;
    Ok(LockStatus {
        key: key.to_owned(),
        holders: snapshot.live_holders(tx.now().await?),
        waiters: snapshot.live_waiters,
    })
}

/// Revokes a live lease: its locks are released and their waiters granted.
pub async fn revoke_lease<T: ExpiryTx>(
    tx: &mut T,
    namespace: &Namespace,
    lease_id: LeaseId,
) -> Result<Applied<()>, Error> {
    if tx.lease_expiry(namespace, lease_id).await?.is_none() {
        return Err(Error::LeaseNotFound { lease_id: lease_id.to_string() });
    }
    let mut woken = Vec::new();
    for key in tx.lease_keys(namespace, lease_id).await? {
        tx.lock_key(namespace, &key).await?;
        tx.delete_lease_holders(namespace, &key, lease_id).await?;
        woken.extend(settle_key(tx, namespace, &key).await?);
    }
    tx.delete_lease(namespace, lease_id).await?;
    Ok(Applied::granting((), woken))
}

/// One expiry pass: purges up to `max_keys` lapsed holders that nobody waits behind, settles up to `max_keys`
/// keys with something else lapsed, then drops lapsed leases. The purge takes one statement for all of them (three
/// on PostgreSQL), where settling them key by key took three each.
pub async fn expire_due<T: ExpiryTx>(tx: &mut T, max_keys: u32) -> Result<Applied<crate::lock::ExpiryReport>, Error> {
    let holders_purged = tx.purge_lapsed_unwaited(max_keys).await?;
    let keys = tx.due_keys(max_keys).await?;
    let mut woken = Vec::new();
    for (namespace, key) in &keys {
        tx.lock_key(namespace, key).await?;
        woken.extend(settle_key(tx, namespace, key).await?);
    }
    tx.delete_expired_leases().await?;
    let now = tx.now().await?;
    let next_due_in_ms = tx.next_due().await?.map(|due| (due.as_millis() - now.as_millis()).max(0));
    let report = crate::lock::ExpiryReport {
        holders_purged,
        keys_processed: keys.len(),
        waiters_granted: woken.len(),
        next_due_in_ms,
    };
    Ok(Applied::granting(report, woken))
}

/// Purges what lapsed on a locked key and hands the freed permits to its waiters.
async fn settle_key<T: LockTx>(tx: &mut T, namespace: &Namespace, key: &str) -> Result<Vec<Holder>, Error> {
    let SettledKey { holders, waiting } = settled_snapshot(tx, namespace, key).await?;
    if waiting == 0 {
        return Ok(Vec::new());
    }
    grant_waiters(tx, namespace, key, &holders).await
}

/// A locked key once what lapsed on it is purged.
pub struct SettledKey {
    /// Its live holders, in fencing-token order.
    pub holders: Vec<Holder>,
    /// How many live waiters it has.
    pub waiting: u64,
}

/// Reads a locked key and purges what lapsed on it.
pub async fn settled_snapshot<T: LockTx>(tx: &mut T, namespace: &Namespace, key: &str) -> Result<SettledKey, Error> {
    let snapshot = tx.key_snapshot(namespace, key).await?;
    let now = tx.now().await?;
    if !snapshot.has_lapsed(now) {
        return Ok(SettledKey { holders: snapshot.live_holders(now), waiting: snapshot.live_waiters });
    }
    // Every holder the purge kept counts, lapsed in the snapshot or not: one whose lease another node is keeping
    // alive right now still holds its permit, which must not go to a waiter.
    let deleted = tx.purge_expired(namespace, key).await?;
    let holders = snapshot.holders.into_iter().filter(|holder| !deleted.contains(&holder.lock_id)).collect();
    Ok(SettledKey { holders, waiting: snapshot.live_waiters })
}

/// Grants free permits to the oldest live waiters, FIFO, and returns the new holders. The key must be locked.
async fn grant_waiters<T: LockTx>(
    tx: &mut T,
    namespace: &Namespace,
    key: &str,
    holders: &[Holder],
) -> Result<Vec<Holder>, Error> {
    let mut granted = Vec::new();
    let mut held = holders.len() as u64;
    let mut permits = holders.first().map(|h| h.permits);
    while let Some(waiter) = tx.oldest_waiter(namespace, key).await? {
        let capacity = permits.unwrap_or(waiter.permits);
        if held >= u64::from(capacity) {
            break;
        }
        tx.delete_waiter(namespace, key, waiter.lock_id).await?;
        let lease_expiry = match waiter.lease_id {
            Some(lease_id) => match tx.lease_expiry(namespace, lease_id).await? {
                Some(expiry) => Some(expiry),
                // Its lease lapsed while it waited: the grant would be born dead. Its caller sees the wait end.
                None => continue,
            },
            None => None,
        };
        let now = tx.now().await?;
        let holder = NewHolder {
            namespace,
            key,
            lock_id: waiter.lock_id,
            owner: &waiter.owner,
            ttl_ms: waiter.ttl_ms,
            permits: capacity,
            lease_id: waiter.lease_id,
            metadata: waiter.metadata.as_ref(),
            acquired_at: now,
            expires_at: expiry_for(now, waiter.ttl_ms, waiter.lease_id),
        };
        let fencing_token = tx.insert_holder(&holder).await?;
        granted.push(holder.into_holder(fencing_token, lease_expiry));
        held += 1;
        permits = Some(capacity);
    }
    Ok(granted)
}

fn expiry_for(now: Timestamp, ttl_ms: i64, lease_id: Option<LeaseId>) -> Option<Timestamp> {
    match lease_id {
        Some(_) => None,
        None => Some(Timestamp(now.as_millis().saturating_add(ttl_ms))),
    }
}

impl NewHolder<'_> {
    /// The holder as callers see it; a lease-bound one expires with its lease.
    fn into_holder(self, fencing_token: FencingToken, lease_expiry: Option<Timestamp>) -> Holder {
        Holder {
            lock_id: self.lock_id,
            key: self.key.to_owned(),
            owner: self.owner.to_owned(),
            fencing_token,
            permits: self.permits,
            ttl_ms: self.ttl_ms,
            acquired_at: self.acquired_at,
            expires_at: self.expires_at.or(lease_expiry).unwrap_or(self.acquired_at),
            lease_id: self.lease_id,
            metadata: self.metadata.cloned(),
        }
    }
}
