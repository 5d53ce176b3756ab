//! Lock requests and answers. Field names follow the Syros README where it has them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireLockRequest {
    pub key: String,
    pub owner: String,
    /// Whole seconds, 1 up to the server's maximum (7 days by default).
    pub ttl_seconds: i64,
    /// Wait this long, in FIFO order, if the lock is held; absent or 0 answers at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_seconds: Option<i64>,
    /// The same in milliseconds, for sub-second waits; takes precedence over `wait_timeout_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Up to this many holders at once (a semaphore); 1 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permits: Option<u32>,
    /// Bind the lock to a lease: it lives exactly as long as the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One grant of a lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LockGrant {
    /// Always true; kept for Syros clients.
    pub success: bool,
    pub lock_id: String,
    pub namespace: String,
    pub key: String,
    pub owner: String,
    /// Strictly increasing per key. Pass it to downstream systems so they can refuse stale writers.
    pub fencing_token: i64,
    pub permits: u32,
    pub ttl_seconds: i64,
    /// RFC 3339, UTC.
    pub acquired_at: String,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseLockRequest {
    pub lock_id: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseLockResponse {
    pub success: bool,
    pub key: String,
    pub lock_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewLockRequest {
    pub lock_id: String,
    pub owner: String,
    /// A new TTL; absent renews with the TTL the lock was granted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LockStatusResponse {
    pub namespace: String,
    pub key: String,
    pub is_locked: bool,
    /// The first holder's owner, fencing token, expiry and metadata (the Syros shape); see `holders` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    pub holders: Vec<LockGrant>,
    pub waiters: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LockList {
    pub items: Vec<LockGrant>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
