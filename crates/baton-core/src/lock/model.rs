//! The lock nouns: ids, a grant, a holder, a status, and the parameters of each store operation.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::namespace::Namespace;

/// Identifies one grant of a lock. A waiter's id becomes its lock id once it is granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LockId(pub Uuid);

impl LockId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
}

impl Default for LockId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies a lease: a TTL that many locks can share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseId(pub Uuid);

impl LeaseId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
}

impl Default for LeaseId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Strictly increasing per key, across releases, expiries, restarts and nodes: every backend draws it from
/// one durable counter while holding the key's serialisation point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FencingToken(pub i64);

/// A current holder of a lock, as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holder {
    pub lock_id: LockId,
    pub key: String,
    pub owner: String,
    pub fencing_token: FencingToken,
    pub permits: u32,
    pub ttl_ms: i64,
    pub acquired_at: Timestamp,
    /// When the grant lapses; for a lock bound to a lease, when the lease does.
    pub expires_at: Timestamp,
    pub lease_id: Option<LeaseId>,
    pub metadata: Option<Value>,
}

/// What a store needs to place a new holder or waiter.
#[derive(Clone, Debug)]
pub struct AcquireParams {
    pub namespace: Namespace,
    pub key: String,
    pub lock_id: LockId,
    pub owner: String,
    pub ttl_ms: i64,
    pub permits: u32,
    pub lease_id: Option<LeaseId>,
    pub metadata: Option<Value>,
    /// When set, a held lock queues the caller (FIFO) until this many milliseconds from now.
    pub wait_ms: Option<i64>,
    pub max_waiters: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AcquireOutcome {
    Granted(Holder),
    Held(Vec<Holder>),
    /// The caller is queued under its `lock_id`; a grant wakes it through the store's change feed.
    Queued {
        /// Milliseconds from the queueing until the first of the holders ahead lapses, by the store's clock:
        /// when the expiry reaper should look at the key if nobody releases it.
        next_lapse_ms: Option<i64>,
    },
}

/// Where a queued waiter stands now.
#[derive(Clone, Debug, PartialEq)]
pub enum WaiterState {
    Waiting,
    Granted(Holder),
    /// Neither waiting nor holding: its deadline passed, or it was granted and already lost the lock.
    Gone,
}

#[derive(Clone, Debug)]
pub struct ReleaseParams {
    pub namespace: Namespace,
    pub key: String,
    pub lock_id: LockId,
    pub owner: String,
}

#[derive(Clone, Debug)]
pub struct RenewParams {
    pub namespace: Namespace,
    pub key: String,
    pub lock_id: LockId,
    pub owner: String,
    /// A new TTL; `None` renews with the TTL the lock was granted with.
    pub ttl_ms: Option<i64>,
}

impl Holder {
    /// The order lists return holders in, and what their cursors hold.
    pub fn list_sort_key(&self) -> Vec<String> {
        vec![self.key.clone(), self.lock_id.to_string()]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockStatus {
    pub key: String,
    pub holders: Vec<Holder>,
    pub waiters: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ListLocksParams {
    pub namespace: Namespace,
    pub owner: Option<String>,
    pub prefix: Option<String>,
    /// Continue after this `(key, lock_id)`.
    pub after: Option<(String, String)>,
    pub limit: u32,
}

/// What one expiry pass did, and when the next one is due.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpiryReport {
    /// Holders that lapsed on keys nobody waited for, removed together.
    pub holders_purged: usize,
    /// Keys settled one by one: those with waiters, and those whose holder's lease lapsed.
    pub keys_processed: usize,
    pub waiters_granted: usize,
    /// Milliseconds until the next holder, lease or waiter deadline lapses, by the store's clock.
    pub next_due_in_ms: Option<i64>,
}

/// The lock key another primitive keeps under the lock machinery: `kind` (`claim`, `election`, a duty's name)
/// and its own name, behind a control character that no client's lock key may hold, so the two never meet and
/// lock listings leave these out.
pub fn reserved_key(kind: &str, name: &str) -> String {
    format!("\u{1}{kind}\u{1}{name}")
}
