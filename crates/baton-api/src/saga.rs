//! Saga requests and answers (`/api/v1/sagas`). The start body and the status answer are the Syros shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// How a step's job is retried when it fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicyBody {
    /// 0 to 999: attempts after the first.
    pub max_retries: i64,
    /// `exponential` (the default), `linear` or `fixed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_strategy: Option<String>,
    /// The first retry's delay; 1000 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_ms: Option<i64>,
}

/// One step: its action runs as a job of type `{service}.{action}` on queue `{service}`, and its compensation,
/// if any, as `{service}.{compensation}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SagaStepBody {
    pub name: String,
    pub service: String,
    pub action: String,
    /// Without one, the step is passed over while compensating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<String>,
    /// 1 to 604800: the limit on each attempt.
    pub timeout_seconds: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicyBody>,
    /// Handed to this step's jobs as `step_input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

/// Starts a saga. Send an `Idempotency-Key` header to make the start safe to repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSagaRequest {
    pub name: String,
    pub steps: Vec<SagaStepBody>,
    /// Handed to every step's jobs as `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Where a saga is (the Syros status shape, plus what a human needs when it is stuck).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SagaStatusView {
    pub saga_id: String,
    pub namespace: String,
    pub name: String,
    /// `running`, `completed`, `compensating`, `compensated`, `compensation_failed` or `cancelled`.
    pub status: String,
    /// The step running or being compensated; absent once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_index: Option<usize>,
    /// The name of that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step: Option<String>,
    /// For `compensation_failed`: the step whose compensation exhausted its retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// One phase of one step on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SagaStepView {
    pub index: usize,
    pub name: String,
    /// `action` or `compensation`.
    pub phase: String,
    /// The job type that performs it.
    pub job_type: String,
    /// `pending`, `running`, `completed`, `failed`, `cancelled` or `skipped`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// One entry per failed attempt: `{attempt, error, at}`.
    pub errors: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// A saga with its input and full step timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SagaView {
    #[serde(flatten)]
    pub status: SagaStatusView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    pub steps: Vec<SagaStepView>,
    /// False when an `Idempotency-Key` matched an earlier start: this is that saga.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SagaList {
    pub sagas: Vec<SagaStatusView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
