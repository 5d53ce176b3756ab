//! The workflow service: checks every request before the store sees it, and pages listings. Every size and
//! range limit on a workflow lives here, once.

use std::sync::Arc;

use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::{Error, ErrorCode};
use crate::job::spec::check_name;
use crate::job::{CompleteParams, PollClaim};
use crate::limits::{Limits, replace_nul};
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};
use crate::store::Store;
use crate::workflow::model::{
    ForkParams, ListWorkflowsParams, RecordStepParams, RecvParams, StartWorkflowParams, Started, StepEffect,
    WorkflowRecord, WorkflowState, WorkflowStep,
};

/// The most priority a run may ask for either way, as for any job.
const MAX_PRIORITY: i32 = 1000;
/// The longest workflow timeout: a year.
const MAX_TIMEOUT_MS: i64 = 366 * 24 * 3600 * 1000;
/// The most steps one workflow may record.
pub const MAX_STEPS: usize = 10_000;

#[derive(Clone, Debug, Default)]
pub struct ListWorkflowsRequest {
    pub namespace: Namespace,
    pub state: Option<WorkflowState>,
    pub name: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone)]
pub struct WorkflowService {
    store: Arc<dyn Store>,
    limits: Limits,
}

impl WorkflowService {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self { store, limits }
    }

    /// Starts a workflow; `false` when one with this id exists already, which is answered instead.
    pub async fn start(&self, params: StartWorkflowParams) -> Result<(WorkflowRecord, bool), Error> {
        self.check_start(&params)?;
        self.store.start_workflow(params).await
    }

    /// Starts a workflow and, when it is new, takes runs for the idle executor whose fetch `claim` holds, in
    /// the same transaction. The caller delivers [`Started::taken`] to it.
    pub async fn start_taking(&self, params: StartWorkflowParams, claim: &PollClaim) -> Result<Started, Error> {
        self.check_start(&params)?;
        self.store.start_workflow_taking(params, claim.fetch_params()).await
    }

    /// Completes the run `complete.lease` holds with its output; answers the workflow as the run's end left it.
    pub async fn complete_run(&self, workflow_id: &str, complete: CompleteParams) -> Result<WorkflowRecord, Error> {
        self.limits.check_key("workflow_id", workflow_id)?;
        self.limits.check_payload("workflow output", complete.result.as_ref())?;
        let workflow = self.store.complete_workflow_run(workflow_id.to_owned(), complete).await?;
        metrics::counter!("baton_jobs_completed_total").increment(1);
        Ok(workflow)
    }

    fn check_start(&self, params: &StartWorkflowParams) -> Result<(), Error> {
        self.limits.check_key("workflow_id", &params.workflow_id)?;
        check_name("workflow name", &params.name)?;
        check_name("queue", &params.options.queue)?;
        if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&params.options.priority) {
            return Err(invalid(format!("priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")));
        }
        if let Some(timeout) = params.options.timeout_ms
            && !(1..=MAX_TIMEOUT_MS).contains(&timeout)
        {
            return Err(invalid(format!("timeout must be between 1 ms and {} s", MAX_TIMEOUT_MS / 1000)));
        }
        self.limits.check_payload("workflow input", params.input.as_ref())
    }

    pub async fn get(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<(WorkflowRecord, Vec<WorkflowStep>), Error> {
        self.limits.check_key("workflow_id", workflow_id)?;
        self.store.get_workflow(namespace, workflow_id).await
    }

    pub async fn list(&self, request: ListWorkflowsRequest) -> Result<Page<WorkflowRecord>, Error> {
        let limit = page_size(request.limit)?;
        let before = match request.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => {
                let mut parts = decode_cursor(cursor, 2)?;
                let id = parts.pop().unwrap_or_default();
                let created = parts
                    .pop()
                    .and_then(|millis| millis.parse().ok())
                    .ok_or_else(|| invalid("cursor is not one this server issued"))?;
                Some((Timestamp(created), id))
            }
        };
        if let Some(name) = &request.name {
            check_name("name", name)?;
        }
        let params = ListWorkflowsParams {
            namespace: request.namespace,
            state: request.state,
            name: request.name,
            before,
            limit,
        };
        self.store.list_workflows(params).await
    }

    pub async fn record_step(&self, mut params: RecordStepParams) -> Result<WorkflowStep, Error> {
        self.limits.check_key("step name", &params.name)?;
        check_step_index(params.index)?;
        if params.output.is_some() && params.error.is_some() {
            return Err(invalid("a step ends with an output or an error, not both"));
        }
        self.limits.check_payload("step output", params.output.as_ref())?;
        if let Some(error) = &mut params.error {
            self.limits.check_metadata("step error", Some(&Value::String(error.clone())))?;
            replace_nul(error);
        }
        match &params.effect {
            None => {}
            Some(StepEffect::Send { workflow_id, topic, message }) => {
                self.limits.check_key("workflow_id", workflow_id)?;
                self.limits.check_key("topic", topic)?;
                self.limits.check_payload("message", Some(message))?;
            }
            Some(StepEffect::SetEvent { key, value }) => {
                self.limits.check_key("event key", key)?;
                self.limits.check_payload("event value", Some(value))?;
            }
            Some(StepEffect::StartChild(child)) => self.check_start(child)?,
        }
        self.store.record_step(params).await
    }

    pub async fn recv(&self, params: RecvParams) -> Result<Option<WorkflowStep>, Error> {
        self.limits.check_key("step name", &params.name)?;
        check_step_index(params.index)?;
        self.limits.check_key("topic", &params.topic)?;
        self.store.recv_message(params).await
    }

    pub async fn send(
        &self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: Value,
    ) -> Result<(), Error> {
        self.limits.check_key("workflow_id", workflow_id)?;
        self.limits.check_key("topic", topic)?;
        self.limits.check_payload("message", Some(&message))?;
        self.store.send_message(namespace, workflow_id, topic, message).await
    }

    pub async fn event(&self, namespace: &Namespace, workflow_id: &str, key: &str) -> Result<Option<Value>, Error> {
        self.limits.check_key("workflow_id", workflow_id)?;
        self.limits.check_key("event key", key)?;
        self.store.workflow_event(namespace, workflow_id, key).await
    }

    pub async fn cancel(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
        self.limits.check_key("workflow_id", workflow_id)?;
        self.store.cancel_workflow(namespace, workflow_id).await
    }

    pub async fn resume(&self, namespace: &Namespace, workflow_id: &str) -> Result<WorkflowRecord, Error> {
        self.limits.check_key("workflow_id", workflow_id)?;
        self.store.resume_workflow(namespace, workflow_id).await
    }

    pub async fn fork(&self, params: ForkParams) -> Result<WorkflowRecord, Error> {
        self.limits.check_key("workflow_id", &params.workflow_id)?;
        self.limits.check_key("workflow_id", &params.new_id)?;
        if params.new_id == params.workflow_id {
            return Err(invalid("a fork needs a new workflow_id"));
        }
        self.store.fork_workflow(params).await
    }
}

fn check_step_index(index: usize) -> Result<(), Error> {
    if index >= MAX_STEPS {
        return Err(Error::invalid(ErrorCode::BatchTooLarge, format!("a workflow records at most {MAX_STEPS} steps")));
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidArgument, message)
}
