//! Lease requests and answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreateLeaseRequest {
    pub ttl_seconds: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeaseResponse {
    pub lease_id: String,
    pub namespace: String,
    pub ttl_seconds: i64,
    pub granted_at: String,
    pub expires_at: String,
}
