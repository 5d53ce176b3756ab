//! Service discovery requests and answers (`/api/v1/services/...`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A check Baton runs: exactly one of `http` (a URL; a 2xx answer passes) and `tcp` (`host:port`; connecting
/// passes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<String>,
    /// The HTTP method; `GET` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub interval_seconds: i64,
    pub timeout_seconds: i64,
}

/// Registers an instance, or updates the one with this id. Give exactly one of `ttl_seconds` (the instance
/// heartbeats) and `check` (Baton probes it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterInstanceRequest {
    pub address: String,
    pub port: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckDefinition>,
    /// Remove the instance once it has been critical this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_after_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How an instance's health is known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CheckView {
    /// `ttl`, `http` or `tcp`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InstanceView {
    pub namespace: String,
    pub service: String,
    pub instance_id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    /// `passing` or `critical`.
    pub health: String,
    /// Why it is critical, or what its last check said.
    #[serde(default)]
    pub output: Option<String>,
    pub check: CheckView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_after_seconds: Option<i64>,
    /// A TTL instance's deadline for its next heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_since: Option<String>,
    /// The node that ran its last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_by: Option<String>,
    pub registered_at: String,
    pub updated_at: String,
    /// The service's modify index when this instance last changed.
    pub index: i64,
}

/// One service's instances and its modify index (also in the `X-Baton-Index` header).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceInstancesView {
    pub service: String,
    pub index: i64,
    pub instances: Vec<InstanceView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceSummaryView {
    pub service: String,
    pub passing: u64,
    pub critical: u64,
    pub total: u64,
    pub index: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceSummaryView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
