//! The discovery nouns: a service's instances (address, tags, metadata, and how their health is known: a TTL
//! the instance renews, or a check Baton runs), their health, the service's modify index, and the parameters of
//! each store operation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Timestamp;
use crate::lock::reserved_key;
use crate::namespace::Namespace;

/// The lock key a service's writes serialise on (and the PostgreSQL advisory lock they begin holding).
pub fn service_key(service: &str) -> String {
    reserved_key("service", service)
}

/// The lock key of the prober's leadership: the one node of a cluster that runs health checks holds it.
pub fn prober_key() -> String {
    reserved_key("discovery", "prober")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Passing,
    Critical,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passing => "passing",
            Self::Critical => "critical",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "passing" => Some(Self::Passing),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// How an instance's health is known. Stored as JSON, so the variants' field names are part of the schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    /// The instance heartbeats at least every `ttl_ms`; a lapse makes it critical.
    Ttl { ttl_ms: i64 },
    /// Baton requests `url`; a 2xx answer within the timeout passes.
    Http { url: String, method: String, interval_ms: i64, timeout_ms: i64 },
    /// Baton opens a TCP connection to `address` (`host:port`); connecting within the timeout passes.
    Tcp { address: String, interval_ms: i64, timeout_ms: i64 },
}

impl HealthCheck {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ttl { .. } => "ttl",
            Self::Http { .. } => "http",
            Self::Tcp { .. } => "tcp",
        }
    }

    /// How often Baton runs the check; `None` for a TTL.
    pub fn interval_ms(&self) -> Option<i64> {
        match self {
            Self::Ttl { .. } => None,
            Self::Http { interval_ms, .. } | Self::Tcp { interval_ms, .. } => Some(*interval_ms),
        }
    }

    pub fn timeout_ms(&self) -> Option<i64> {
        match self {
            Self::Ttl { .. } => None,
            Self::Http { timeout_ms, .. } | Self::Tcp { timeout_ms, .. } => Some(*timeout_ms),
        }
    }
}

/// One registered instance of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub namespace: Namespace,
    pub service: String,
    pub instance_id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    pub check: HealthCheck,
    /// Removed once it has been critical this long.
    pub deregister_after_ms: Option<i64>,
    pub health: Health,
    /// Why it is critical, or what the last check said.
    pub output: Option<String>,
    /// A TTL instance's deadline for its next heartbeat.
    pub expires_at: Option<Timestamp>,
    /// When it last became critical; `None` while passing.
    pub critical_since: Option<Timestamp>,
    /// A checked instance's next check.
    pub next_check_at: Option<Timestamp>,
    /// The node that ran its last check.
    pub checked_by: Option<String>,
    pub registered_at: Timestamp,
    pub updated_at: Timestamp,
    /// The service's modify index when this instance last changed.
    pub modify_index: i64,
}

pub const TTL_LAPSED: &str = "TTL lapsed: no heartbeat in time";
pub const AWAITING_FIRST_CHECK: &str = "awaiting its first check";

impl Instance {
    /// The instance as of `now`: a TTL instance whose deadline passed is critical (since that deadline) even
    /// before the reaper records it, so healthy results never include it.
    pub fn as_of(mut self, now: Timestamp) -> Self {
        if self.health == Health::Passing
            && let Some(expires_at) = self.expires_at
            && expires_at <= now
        {
            self.health = Health::Critical;
            self.critical_since = Some(expires_at);
            self.output = Some(TTL_LAPSED.to_owned());
        }
        self
    }

    /// Whether a re-registration with `other`'s definition changes what readers see.
    pub fn same_definition(&self, other: &Instance) -> bool {
        self.address == other.address
            && self.port == other.port
            && self.tags == other.tags
            && self.metadata == other.metadata
            && self.check == other.check
            && self.deregister_after_ms == other.deregister_after_ms
    }
}

/// A service in a listing: its instances counted by health.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSummary {
    pub namespace: Namespace,
    pub service: String,
    pub passing: u64,
    pub critical: u64,
    pub total: u64,
    pub index: i64,
}

/// A page of one service's instances, and the service's modify index read before them: a reader never holds
/// an index newer than what it saw, so a blocking query on it can only wake too early, never miss a change.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceInstances {
    pub service: String,
    pub index: i64,
    pub instances: Vec<Instance>,
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceKey {
    pub namespace: Namespace,
    pub service: String,
    pub instance_id: String,
}

#[derive(Clone, Debug)]
pub struct RegisterParams {
    pub namespace: Namespace,
    pub service: String,
    pub instance_id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    pub check: HealthCheck,
    pub deregister_after_ms: Option<i64>,
}

/// What a registration did.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    pub instance: Instance,
    /// A new instance (not an update of one with the same id).
    pub created: bool,
}

#[derive(Clone, Debug)]
pub struct ListInstancesParams {
    pub namespace: Namespace,
    pub service: String,
    /// Only instances passing right now.
    pub healthy_only: bool,
    /// Only instances carrying every one of these tags.
    pub tags: Vec<String>,
    /// Continue after this instance id.
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Clone, Debug)]
pub struct ListServicesParams {
    pub namespace: Namespace,
    pub after: Option<String>,
    pub limit: u32,
}

/// A check the prober must run now, handed out for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct DueCheck {
    pub key: InstanceKey,
    pub check: HealthCheck,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DueChecks {
    pub checks: Vec<DueCheck>,
    /// How long until the next check not handed out is due, if any is scheduled.
    pub next_due_in_ms: Option<i64>,
}

/// The outcome of one run of a check.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    pub key: InstanceKey,
    /// The definition that was run: a result for a definition since replaced is dropped.
    pub check: HealthCheck,
    pub passing: bool,
    pub output: String,
    pub checked_by: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepReport {
    /// TTL instances recorded critical.
    pub lapsed: u64,
    /// Instances removed after being critical for their `deregister_after`.
    pub deregistered: u64,
    pub services: u64,
}
