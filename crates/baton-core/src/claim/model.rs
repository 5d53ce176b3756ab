//! The claim nouns: a claim on a resource (held, then done or discarded), and the parameters of each store
//! operation. A held claim is a lock on the resource's reserved key; only the done state has its own rows.

use serde_json::Value;

use crate::clock::Timestamp;
use crate::lock::{FencingToken, Holder, LockId, reserved_key};
use crate::namespace::Namespace;

/// The lock key a claim on `resource` is held under.
pub fn claim_key(resource: &str) -> String {
    reserved_key("claim", resource)
}

/// The resource a claim's lock key names, if it is one.
pub fn resource_of(key: &str) -> Option<&str> {
    key.strip_prefix(&claim_key(""))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimState {
    Held,
    /// Marked done: never granted again.
    Done,
}

impl ClaimState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Done => "done",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "held" => Some(Self::Held),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub namespace: Namespace,
    pub resource: String,
    pub claim_id: LockId,
    pub owner: String,
    pub fencing_token: FencingToken,
    pub acquired_at: Timestamp,
    /// When a held claim lapses.
    pub expires_at: Option<Timestamp>,
    pub done_at: Option<Timestamp>,
    pub metadata: Option<Value>,
    pub state: ClaimState,
}

impl Claim {
    /// A held claim, from the lock that holds it.
    pub fn held(namespace: &Namespace, holder: Holder) -> Self {
        let resource = resource_of(&holder.key).unwrap_or(&holder.key).to_owned();
        Self {
            namespace: namespace.clone(),
            resource,
            claim_id: holder.lock_id,
            owner: holder.owner,
            fencing_token: holder.fencing_token,
            acquired_at: holder.acquired_at,
            expires_at: Some(holder.expires_at),
            done_at: None,
            metadata: holder.metadata,
            state: ClaimState::Held,
        }
    }
}

/// What a resource is now.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimStatus {
    Free,
    Held(Claim),
    Done(Claim),
}

#[derive(Clone, Debug)]
pub struct ClaimParams {
    pub namespace: Namespace,
    pub resource: String,
    pub claim_id: LockId,
    pub owner: String,
    pub ttl_ms: i64,
    pub metadata: Option<Value>,
}

/// Claims the first of `candidates` that is neither held nor done.
#[derive(Clone, Debug)]
pub struct NextClaimParams {
    pub namespace: Namespace,
    pub candidates: Vec<String>,
    pub claim_id: LockId,
    pub owner: String,
    pub ttl_ms: i64,
    pub metadata: Option<Value>,
}

/// Acting on a held claim: `done` (with metadata merged in) or `discard`.
#[derive(Clone, Debug)]
pub struct FinishClaimParams {
    pub namespace: Namespace,
    pub resource: String,
    pub claim_id: LockId,
    pub owner: String,
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct ListClaimsParams {
    pub namespace: Namespace,
    /// Both when `None`.
    pub state: Option<ClaimState>,
    pub owner: Option<String>,
    pub prefix: Option<String>,
    /// Continue after this resource.
    pub after: Option<String>,
    pub limit: u32,
}

/// Done metadata merged into the claim's: object keys of `update` win; anything else replaces.
pub fn merge_metadata(base: Option<Value>, update: Option<Value>) -> Option<Value> {
    match (base, update) {
        (Some(Value::Object(mut base)), Some(Value::Object(update))) => {
            base.extend(update);
            Some(Value::Object(base))
        }
        (base, None) => base,
        (_, update) => update,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn done_metadata_merges_into_the_claims() {
        let merged = merge_metadata(Some(json!({"file": "a.csv", "try": 1})), Some(json!({"try": 2, "rows": 10})));
        assert_eq!(merged, Some(json!({"file": "a.csv", "try": 2, "rows": 10})));
        assert_eq!(merge_metadata(Some(json!({"a": 1})), None), Some(json!({"a": 1})));
        assert_eq!(merge_metadata(None, Some(json!([1]))), Some(json!([1])));
    }

    #[test]
    fn claim_keys_round_trip_and_never_meet_a_lock_key() {
        assert_eq!(resource_of(&claim_key("files/a.csv")), Some("files/a.csv"));
        assert_eq!(resource_of("files/a.csv"), None);
    }
}
