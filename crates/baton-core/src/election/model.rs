//! The election nouns: leadership (a lock on the election's reserved key, its value kept as the holder's
//! metadata, its term the fencing token) and what observers see.

use serde_json::Value;

use crate::clock::Timestamp;
use crate::lock::{FencingToken, Holder, LockId, reserved_key};
use crate::namespace::Namespace;

/// The lock key an election is held under.
pub fn election_key(name: &str) -> String {
    reserved_key("election", name)
}

/// The election a lock key names, if it is one.
pub fn election_of(key: &str) -> Option<&str> {
    key.strip_prefix(&election_key(""))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Leadership {
    pub namespace: Namespace,
    pub name: String,
    /// What the leader acts under (proclaim, renew, resign).
    pub leadership_id: LockId,
    pub candidate: String,
    pub value: Option<Value>,
    /// Strictly increasing per election: hand it to the systems the leader writes to.
    pub term: FencingToken,
    pub since: Timestamp,
    pub expires_at: Timestamp,
    pub ttl_ms: i64,
}

impl Leadership {
    pub fn from_holder(namespace: &Namespace, holder: Holder) -> Self {
        Self {
            namespace: namespace.clone(),
            name: election_of(&holder.key).unwrap_or(&holder.key).to_owned(),
            leadership_id: holder.lock_id,
            candidate: holder.owner,
            value: holder.metadata,
            term: holder.fencing_token,
            since: holder.acquired_at,
            expires_at: holder.expires_at,
            ttl_ms: holder.ttl_ms,
        }
    }
}

/// An election as observers see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ElectionState {
    pub name: String,
    pub leader: Option<Leadership>,
    /// Candidates queued behind the leader.
    pub candidates_waiting: u64,
}

#[derive(Clone, Debug)]
pub struct ProclaimParams {
    pub namespace: Namespace,
    pub name: String,
    pub leadership_id: LockId,
    pub candidate: String,
    pub value: Option<Value>,
}
