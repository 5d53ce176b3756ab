//! The port between the workflow executor and where progress lives: Baton's engine in this process
//! ([`crate::Embedded`]) or a Baton server over its REST API ([`crate::Remote`]). The executor and the
//! workflow context are written once over it, so the same workflow code runs in both modes.

use std::time::Duration;

use async_trait::async_trait;
use baton_core::clock::Timestamp;
use baton_core::workflow::{StepKind, WorkflowOptions, WorkflowRecord, WorkflowState, WorkflowStep};
use serde_json::Value;

use crate::error::WorkflowError;

pub type Result<T> = std::result::Result<T, WorkflowError>;

/// A workflow to start.
#[derive(Clone, Debug, PartialEq)]
pub struct NewWorkflow {
    pub workflow_id: String,
    pub name: String,
    pub input: Option<Value>,
    pub options: WorkflowOptions,
    pub parent_id: Option<String>,
}

/// A run this executor took from the queue, with the lease every checkpoint must carry.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub workflow_id: String,
    pub name: String,
    pub job_id: String,
    pub lease_token: i64,
}

impl Run {
    /// The run a fetched job is: its payload names the workflow (`None` for a job that is not a run).
    pub(crate) fn of_job(payload: &Value, name: String, job_id: String, lease_token: Option<i64>) -> Option<Self> {
        let workflow_id = payload.get("workflow_id")?.as_str()?.to_owned();
        Some(Self { workflow_id, name, job_id, lease_token: lease_token? })
    }
}

/// What a checkpoint does besides record; the engine applies it once, with the checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send { workflow_id: String, topic: String, message: Value },
    SetEvent { key: String, value: Value },
    StartChild(NewWorkflow),
}

/// A checkpoint to write.
#[derive(Clone, Debug, PartialEq)]
pub struct StepWrite {
    pub index: usize,
    pub name: String,
    pub kind: StepKind,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: Timestamp,
    pub effect: Option<Effect>,
}

/// Filters for listing workflows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListFilter {
    pub state: Option<WorkflowState>,
    pub name: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowPage {
    pub workflows: Vec<WorkflowRecord>,
    pub next_cursor: Option<String>,
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Starts a workflow; `false` when one with this id existed, which is answered instead.
    async fn start(&self, workflow: NewWorkflow) -> Result<(WorkflowRecord, bool)>;
    async fn get(&self, workflow_id: &str) -> Result<(WorkflowRecord, Vec<WorkflowStep>)>;
    /// The workflow a run replays, with its checkpoints.
    async fn load_run(&self, run: &Run) -> Result<(WorkflowRecord, Vec<WorkflowStep>)> {
        self.get(&run.workflow_id).await
    }
    async fn list(&self, filter: ListFilter) -> Result<WorkflowPage>;
    async fn cancel(&self, workflow_id: &str) -> Result<WorkflowRecord>;
    async fn resume(&self, workflow_id: &str) -> Result<WorkflowRecord>;
    async fn fork(&self, workflow_id: &str, new_id: &str, from_step: usize) -> Result<WorkflowRecord>;
    async fn send(&self, workflow_id: &str, topic: &str, message: Value) -> Result<()>;
    async fn event(&self, workflow_id: &str, key: &str) -> Result<Option<Value>>;
    /// The workflow once its current run's job has ended, or as it stands after `wait`.
    async fn wait_run(&self, workflow: &WorkflowRecord, wait: Duration) -> Result<WorkflowRecord>;

    /// Takes up to `max` runs of the named workflows from `queue`, long-polling up to `wait`.
    async fn fetch_runs(
        &self,
        queue: &str,
        names: &[String],
        worker_id: &str,
        max: u32,
        wait: Duration,
        lease: Duration,
    ) -> Result<Vec<Run>>;
    /// Extends the run's lease; `true` when the workflow was cancelled meanwhile.
    async fn heartbeat(&self, run: &Run) -> Result<bool>;
    /// Ends the run, and with it the workflow, with its output.
    async fn complete(&self, run: &Run, output: Value) -> Result<()>;
    /// Ends the run's attempt: `discard` ends the workflow (`failed`, or `cancelled` after a cancel); else the
    /// run is taken again after `retry_in`.
    async fn fail(&self, run: &Run, error: &str, retry_in: Option<Duration>, discard: bool) -> Result<()>;
    /// Writes a checkpoint; a repeat of a written index answers the first write.
    async fn record_step(&self, run: &Run, step: StepWrite) -> Result<WorkflowStep>;
    /// Takes the oldest waiting message of `topic` as checkpoint `index`, if one waits.
    async fn recv(&self, run: &Run, index: usize, name: &str, topic: &str) -> Result<Option<WorkflowStep>>;
}
