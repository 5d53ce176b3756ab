//! The durable workflow's vocabulary: a run, its checkpointed steps, and what a step may do besides record.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Timestamp;
use crate::job::{JobId, LeaseRef};
use crate::namespace::Namespace;

/// Where a workflow is. A workflow that waits (for its turn on the queue, a timer, a message, a child) is
/// `running`: its run job says whether a worker holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl WorkflowState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        self != Self::Running
    }
}

impl fmt::Display for WorkflowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkflowState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Running, Self::Completed, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown workflow state '{s}': running, completed, failed or cancelled"))
    }
}

/// How a workflow runs, fixed when it starts (and kept by a fork or a resume).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowOptions {
    /// The job queue its runs wait on; executors fetch from it.
    pub queue: String,
    pub priority: i32,
    /// After this long from its start, the workflow is cancelled at its next checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
}

pub const DEFAULT_QUEUE: &str = "workflows";

impl Default for WorkflowOptions {
    fn default() -> Self {
        Self { queue: DEFAULT_QUEUE.into(), priority: 0, timeout_ms: None }
    }
}

/// One workflow as stored (a `workflows` row of kind `workflow`).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowRecord {
    pub namespace: Namespace,
    pub workflow_id: String,
    pub name: String,
    pub state: WorkflowState,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub options: WorkflowOptions,
    pub parent_id: Option<String>,
    /// The job of the current run.
    pub job_id: Option<JobId>,
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl WorkflowRecord {
    /// When a workflow with a timeout is past it.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.options.timeout_ms.map(|ms| Timestamp(self.created_at.0.saturating_add(ms)))
    }
}

/// What kind of call a step records; a replay must ask for the same kind and name at each index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// `ctx.step`: the closure's output.
    Step,
    /// `ctx.sleep`: the instant it wakes.
    Sleep,
    /// `ctx.recv`: the message taken, or null on timeout.
    Recv,
    /// `ctx.send`: the message was stored for its target.
    Send,
    /// `ctx.set_event`.
    SetEvent,
    /// `ctx.get_event`: the value read, or null on timeout.
    GetEvent,
    /// `ctx.start_child`: the child's id.
    StartChild,
    /// A child's result, once it finished.
    ChildResult,
    /// `ctx.now`, `ctx.uuid`, `ctx.random`: the value drawn.
    Value,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Sleep => "sleep",
            Self::Recv => "recv",
            Self::Send => "send",
            Self::SetEvent => "set_event",
            Self::GetEvent => "get_event",
            Self::StartChild => "start_child",
            Self::ChildResult => "child_result",
            Self::Value => "value",
        }
    }
}

impl FromStr for StepKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Step,
            Self::Sleep,
            Self::Recv,
            Self::Send,
            Self::SetEvent,
            Self::GetEvent,
            Self::StartChild,
            Self::ChildResult,
            Self::Value,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown step kind '{s}': step, sleep, recv, send, set_event, get_event, start_child, child_result or value"
            )
        })
    }
}

/// One recorded step (a `workflow_steps` row of phase `action`): exactly one of `output` and `error` holds
/// what the step produced, and a replay is handed it back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStep {
    pub index: usize,
    pub name: String,
    pub kind: StepKind,
    pub output: Option<Value>,
    /// The step's error when its retries ran out: a replay sees the same failure.
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
}

/// Starts a workflow; a second start with the same id answers the first run.
#[derive(Clone, Debug, PartialEq)]
pub struct StartWorkflowParams {
    pub namespace: Namespace,
    pub workflow_id: String,
    pub name: String,
    pub input: Option<Value>,
    pub options: WorkflowOptions,
    pub parent_id: Option<String>,
}

/// A workflow start that also fetched for an idle executor ([`crate::workflow::engine::start_taking`]).
#[derive(Clone, Debug)]
pub struct Started {
    pub workflow: WorkflowRecord,
    /// False when a workflow with this id existed: it is answered, and nothing was fetched.
    pub created: bool,
    /// The runs the fetch took, leased to the executor it was made for.
    pub taken: Vec<crate::job::Job>,
}

/// What a step does, in the same transaction as its checkpoint and only when the checkpoint is new, so it
/// happens exactly once.
#[derive(Clone, Debug, PartialEq)]
pub enum StepEffect {
    Send { workflow_id: String, topic: String, message: Value },
    SetEvent { key: String, value: Value },
    StartChild(StartWorkflowParams),
}

/// A checkpoint the executor holding `lease` writes for `workflow_id`.
#[derive(Clone, Debug)]
pub struct RecordStepParams {
    pub lease: LeaseRef,
    pub workflow_id: String,
    pub index: usize,
    pub name: String,
    pub kind: StepKind,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub effect: Option<StepEffect>,
}

/// Takes the oldest message of `topic` as step `index`, if one waits.
#[derive(Clone, Debug)]
pub struct RecvParams {
    pub lease: LeaseRef,
    pub workflow_id: String,
    pub index: usize,
    pub name: String,
    pub topic: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForkParams {
    pub namespace: Namespace,
    pub workflow_id: String,
    /// The new workflow's id.
    pub new_id: String,
    /// Checkpoints before this step are copied; it and everything after run again.
    pub from_step: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ListWorkflowsParams {
    pub namespace: Namespace,
    pub state: Option<WorkflowState>,
    pub name: Option<String>,
    /// Continue with the workflows started before this one (by creation, then id).
    pub before: Option<(Timestamp, String)>,
    pub limit: u32,
}

/// A run's job tag: the job engine hands finalized jobs with it to the workflow engine.
pub const WORKFLOW_JOB_TAG: &str = "workflow";
