//! Durable workflow requests and answers (`/api/v1/workflows`). Management (start, list, get, cancel, resume,
//! fork, send, events) is for any caller; the step endpoints are the executor's, under its run's lease.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Starts a workflow: a run is enqueued as a job of type `name` on `queue`, for an executor that registered
/// that name. Starting an id that exists answers that workflow instead.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartWorkflowRequest {
    pub name: String,
    /// A new random id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// `workflows` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// -1000 to 1000; higher runs first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// After this long from its start the workflow is cancelled at its next checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One recorded step. `kind` is `step`, `sleep`, `recv`, `send`, `set_event`, `get_event`, `start_child`,
/// `child_result` or `value`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowStepView {
    pub index: usize,
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The step's error when its retries ran out; a replay sees the same failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowView {
    pub workflow_id: String,
    pub namespace: String,
    pub name: String,
    /// `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub queue: String,
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The job of the current run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    pub cancel_requested: bool,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The recorded steps by index; absent in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<WorkflowStepView>>,
    /// On a start: false when a workflow with this id existed, and this is it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Starts a new workflow from this one's checkpoints before `from_step`; that step and the rest run again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkRequest {
    pub from_step: usize,
    /// The new workflow's id; a random one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
}

/// A message for the workflow's `recv(topic)`; each message is received once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    pub topic: String,
    pub message: Value,
}

/// The latest value a workflow set for an event key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkflowEventView {
    pub workflow_id: String,
    pub key: String,
    /// False while the workflow has not set it (`value` is then absent).
    pub set: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// What a checkpoint does besides record, exactly once, in the checkpoint's transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepEffectBody {
    Send { workflow_id: String, topic: String, message: Value },
    SetEvent { key: String, value: Value },
    StartChild(StartWorkflowRequest),
}

/// A checkpoint written by the executor that holds the run's job lease.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordStepRequest {
    /// The run's job, and the lease token the fetch handed out.
    pub job_id: String,
    pub lease_token: i64,
    pub name: String,
    /// `step` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// 1 by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// When the step began (RFC 3339); now by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<StepEffectBody>,
}

/// Takes the oldest waiting message of `topic` as the step, if one waits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecvRequest {
    pub job_id: String,
    pub lease_token: i64,
    pub name: String,
    pub topic: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecvResponse {
    /// The step holding the message taken; absent while none waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<WorkflowStepView>,
}
