//! The saga's vocabulary: ids, states, phases and steps as a client declares them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::job::BackoffStrategy;

/// A saga's id: a UUIDv7, so ids sort by start time and listings page by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaId(pub Uuid);

impl SagaId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for SagaId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SagaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SagaId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a saga is. `compensating` covers both a failed step and a cancel; which of the two started it decides
/// whether the saga ends `compensated` or `cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaState {
    Running,
    Completed,
    Compensating,
    Compensated,
    CompensationFailed,
    Cancelled,
}

impl SagaState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Compensating => "compensating",
            Self::Compensated => "compensated",
            Self::CompensationFailed => "compensation_failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// A finished saga never changes again.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running | Self::Compensating)
    }
}

impl fmt::Display for SagaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SagaState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Running,
            Self::Completed,
            Self::Compensating,
            Self::Compensated,
            Self::CompensationFailed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown saga state '{s}'"))
    }
}

/// Which half of a step a job performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    Action,
    Compensation,
}

impl StepPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Compensation => "compensation",
        }
    }
}

/// Where one phase of one step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// A completed step without a compensation, passed over while compensating.
    Skipped,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }
}

/// How a step's job retries (the Syros shape). It maps onto the job's own attempts and backoff:
/// `max_attempts = max_retries + 1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub max_retries: i64,
    #[serde(default)]
    pub backoff_strategy: BackoffStrategy,
    #[serde(default = "default_initial_delay_ms")]
    pub initial_delay_ms: i64,
}

fn default_initial_delay_ms() -> i64 {
    1_000
}

/// One step as a client declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    pub name: String,
    pub service: String,
    pub action: String,
    /// The job type suffix that undoes the action; a step without one is passed over while compensating.
    #[serde(default)]
    pub compensation: Option<String>,
    /// The job's timeout per attempt. Signed so that a negative value is refused by name, not by the parser.
    pub timeout_seconds: i64,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default)]
    pub input: Option<Value>,
}

/// A saga as a client declares it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SagaSpec {
    pub name: String,
    pub steps: Vec<StepSpec>,
    pub input: Option<Value>,
    pub metadata: Option<Value>,
    /// The `Idempotency-Key` header: a second start with the same key returns the first saga.
    pub idempotency_key: Option<String>,
}

/// Which sagas a listing returns, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct ListSagasParams {
    pub namespace: crate::namespace::Namespace,
    pub state: Option<SagaState>,
    pub name: Option<String>,
    /// Continue with the sagas started before this one.
    pub before: Option<SagaId>,
    pub limit: u32,
}
