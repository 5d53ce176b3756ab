//! Lease requests and answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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

/// One message a client sends on the keepalive stream (`GET /api/v1/leases/keepalive`, WebSocket).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveStreamRequest {
    pub lease_id: String,
}

/// The stream's answer to one request, in request order: the lease as the keepalive left it, or why it was
/// refused (the stream stays open either way).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeepaliveStreamAnswer {
    pub lease_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}
