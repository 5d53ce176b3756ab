//! Starting and managing workflows, in either mode, and handles on them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_client::BatonClient;
use baton_core::workflow::{WorkflowOptions, WorkflowRecord, WorkflowState, WorkflowStep};
use baton_postgres::PgOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::backend::{Backend, ListFilter, NewWorkflow, WorkflowPage};
use crate::embedded::Embedded;
use crate::error::WorkflowError;
use crate::executor::{Executor, ExecutorOptions};
use crate::registry::Registry;
use crate::remote::Remote;

/// The most one wait for a run's end lasts before the workflow is read again (a resumed workflow has a new run).
const RUN_WAIT: Duration = Duration::from_secs(30);

/// How a workflow starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartOptions {
    /// Starting an id that exists answers that workflow; a random id when absent.
    pub workflow_id: Option<String>,
    /// `workflows` by default: the queue an executor takes it from.
    pub queue: Option<String>,
    pub priority: Option<i32>,
    /// After this long from its start it is cancelled at its next checkpoint.
    pub timeout: Option<Duration>,
}

/// Workflows on one backend: start them, manage them, and build executors for them.
#[derive(Clone)]
pub struct Workflows {
    backend: Arc<dyn Backend>,
}

impl Workflows {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend }
    }

    /// Embedded, on a SQLite file in `data_dir`.
    pub async fn sqlite(data_dir: impl Into<PathBuf>) -> Result<Self, WorkflowError> {
        Ok(Self::new(Arc::new(Embedded::sqlite(data_dir).await?)))
    }

    /// Embedded, on PostgreSQL.
    pub async fn postgres(options: PgOptions) -> Result<Self, WorkflowError> {
        Ok(Self::new(Arc::new(Embedded::postgres(options).await?)))
    }

    /// Against a Baton server.
    pub fn remote(client: BatonClient) -> Self {
        Self::new(Arc::new(Remote::new(client)))
    }

    pub fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone()
    }

    pub fn executor(&self, registry: Registry, options: ExecutorOptions) -> Executor {
        Executor::new(self.backend.clone(), registry, options)
    }

    /// Starts the workflow registered as `name` (by some executor) with `input`.
    pub async fn start(
        &self,
        name: &str,
        input: &impl Serialize,
        options: StartOptions,
    ) -> Result<WorkflowHandle, WorkflowError> {
        let defaults = WorkflowOptions::default();
        let workflow = NewWorkflow {
            workflow_id: options.workflow_id.unwrap_or_else(|| Uuid::now_v7().to_string()),
            name: name.to_owned(),
            input: Some(serde_json::to_value(input).map_err(|error| WorkflowError::serde("workflow input", error))?),
            options: WorkflowOptions {
                queue: options.queue.unwrap_or(defaults.queue),
                priority: options.priority.unwrap_or(defaults.priority),
                timeout_ms: options.timeout.map(|timeout| i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)),
            },
            parent_id: None,
        };
        let (record, created) = self.backend.start(workflow).await?;
        Ok(WorkflowHandle { backend: self.backend.clone(), record, created })
    }

    /// A handle on an existing workflow.
    pub async fn handle(&self, workflow_id: &str) -> Result<WorkflowHandle, WorkflowError> {
        let (record, _) = self.backend.get(workflow_id).await?;
        Ok(WorkflowHandle { backend: self.backend.clone(), record, created: false })
    }

    pub async fn list(&self, filter: ListFilter) -> Result<WorkflowPage, WorkflowError> {
        self.backend.list(filter).await
    }

    pub async fn cancel(&self, workflow_id: &str) -> Result<WorkflowRecord, WorkflowError> {
        self.backend.cancel(workflow_id).await
    }

    /// Runs a failed or cancelled workflow again from its checkpoints.
    pub async fn resume(&self, workflow_id: &str) -> Result<WorkflowHandle, WorkflowError> {
        let record = self.backend.resume(workflow_id).await?;
        Ok(WorkflowHandle { backend: self.backend.clone(), record, created: false })
    }

    /// A new workflow (`new_id`, or a random id) that reuses this one's checkpoints before `from_step`.
    pub async fn fork(
        &self,
        workflow_id: &str,
        from_step: usize,
        new_id: Option<&str>,
    ) -> Result<WorkflowHandle, WorkflowError> {
        let new_id = new_id.map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
        let record = self.backend.fork(workflow_id, &new_id, from_step).await?;
        Ok(WorkflowHandle { backend: self.backend.clone(), record, created: true })
    }

    /// Sends a message to the workflow's `recv(topic)` from outside any workflow.
    pub async fn send(&self, workflow_id: &str, topic: &str, message: &impl Serialize) -> Result<(), WorkflowError> {
        let message = serde_json::to_value(message).map_err(|error| WorkflowError::serde("message", error))?;
        self.backend.send(workflow_id, topic, message).await
    }

    /// The latest value the workflow set for `key`.
    pub async fn get_event(&self, workflow_id: &str, key: &str) -> Result<Option<Value>, WorkflowError> {
        self.backend.event(workflow_id, key).await
    }
}

/// One workflow: its status, its steps, and its result once it finishes.
#[derive(Clone)]
pub struct WorkflowHandle {
    backend: Arc<dyn Backend>,
    record: WorkflowRecord,
    created: bool,
}

impl std::fmt::Debug for WorkflowHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowHandle").field("record", &self.record).field("created", &self.created).finish()
    }
}

impl WorkflowHandle {
    pub fn workflow_id(&self) -> &str {
        &self.record.workflow_id
    }

    /// False when the start found a workflow with this id, and this handle is on it.
    pub fn created(&self) -> bool {
        self.created
    }

    /// The workflow as it stands now.
    pub async fn status(&self) -> Result<WorkflowRecord, WorkflowError> {
        Ok(self.backend.get(self.workflow_id()).await?.0)
    }

    pub async fn steps(&self) -> Result<Vec<WorkflowStep>, WorkflowError> {
        Ok(self.backend.get(self.workflow_id()).await?.1)
    }

    /// Waits for the workflow to finish: its output, or why it did not complete.
    pub async fn result<T: DeserializeOwned>(&self) -> Result<T, WorkflowError> {
        self.result_within(Duration::MAX).await
    }

    /// [`Self::result`], giving up with [`WorkflowError::Timeout`] after `timeout`.
    pub async fn result_within<T: DeserializeOwned>(&self, timeout: Duration) -> Result<T, WorkflowError> {
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let mut workflow = self.record.clone();
        loop {
            match workflow.state {
                WorkflowState::Completed => {
                    return serde_json::from_value(workflow.output.unwrap_or(Value::Null))
                        .map_err(|error| WorkflowError::serde("workflow output", error));
                }
                WorkflowState::Failed => {
                    return Err(WorkflowError::Failed(workflow.error.unwrap_or_else(|| "failed".into())));
                }
                WorkflowState::Cancelled => return Err(WorkflowError::Cancelled),
                WorkflowState::Running => {}
            }
            let left = deadline.map_or(RUN_WAIT, |deadline| deadline - tokio::time::Instant::now());
            if left.is_zero() {
                return Err(WorkflowError::Timeout(workflow.workflow_id));
            }
            workflow = self.backend.wait_run(&workflow, left.min(RUN_WAIT)).await?;
        }
    }
}
