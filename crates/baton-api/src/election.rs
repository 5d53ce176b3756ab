//! Leader election requests and answers (`/api/v1/elections/{name}/...`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    pub candidate: String,
    pub ttl_seconds: i64,
    /// Wait in line (FIFO) up to this long when another candidate leads; answer at once without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_ms: Option<i64>,
    /// What the leader announces (an address, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProclaimRequest {
    pub leadership_id: String,
    pub candidate: String,
    #[serde(default)]
    pub value: Option<Value>,
}

/// Renew (with an optional new TTL) and resign.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaderRequest {
    pub leadership_id: String,
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadershipView {
    pub name: String,
    pub leadership_id: String,
    pub candidate: String,
    #[serde(default)]
    pub value: Option<Value>,
    /// The leadership's fencing token: strictly increasing per election.
    pub term: i64,
    /// The same number as `term`, under the name locks and claims give their fencing tokens.
    #[serde(default)]
    pub fencing_token: i64,
    pub since: String,
    pub expires_at: String,
    pub ttl_seconds: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ElectionView {
    pub name: String,
    #[serde(default)]
    pub leader: Option<LeadershipView>,
    pub candidates_waiting: u64,
}
