//! A Baton server reached over its REST API: the workflow code runs in this process, its checkpoints live on
//! the server. Runs are jobs, taken and acknowledged through the jobs API.

use std::time::Duration;

use async_trait::async_trait;
use baton_api::job::{FailRequest, FetchRequest};
use baton_api::workflow::{
    ForkRequest, RecordStepRequest, RecvRequest, StartWorkflowRequest, StepEffectBody, WorkflowStepView, WorkflowView,
};
use baton_client::{BatonClient, ListWorkflows};
use baton_core::clock::Timestamp;
use baton_core::job::JobId;
use baton_core::namespace::Namespace;
use baton_core::workflow::{WorkflowOptions, WorkflowRecord, WorkflowStep};
use serde_json::Value;

use crate::backend::{Backend, Effect, ListFilter, NewWorkflow, Result, Run, StepWrite, WorkflowPage};
use crate::error::WorkflowError;

/// The most a single long-poll waits before asking again; the server's own limit is higher.
const MAX_POLL: Duration = Duration::from_secs(30);

pub struct Remote {
    client: BatonClient,
}

impl Remote {
    pub fn new(client: BatonClient) -> Self {
        Self { client }
    }
}

fn bad_answer(what: &str, value: &str) -> WorkflowError {
    WorkflowError::Unavailable(format!("the server answered an unreadable {what}: '{value}'"))
}

fn timestamp(text: &str) -> Result<Timestamp> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| bad_answer("time", text))
}

fn start_request(workflow: NewWorkflow) -> StartWorkflowRequest {
    StartWorkflowRequest {
        name: workflow.name,
        workflow_id: Some(workflow.workflow_id),
        input: workflow.input,
        queue: Some(workflow.options.queue),
        priority: Some(workflow.options.priority),
        timeout_seconds: workflow.options.timeout_ms.map(|ms| ms as f64 / 1000.0),
        namespace: None,
    }
}

fn step(view: WorkflowStepView) -> Result<WorkflowStep> {
    Ok(WorkflowStep {
        index: view.index,
        kind: view.kind.parse().map_err(|_| bad_answer("step kind", &view.kind))?,
        name: view.name,
        output: view.output,
        error: view.error,
        attempts: view.attempts,
        started_at: timestamp(&view.started_at)?,
        finished_at: timestamp(&view.finished_at)?,
    })
}

/// The server's view of a workflow as the engine's record, with its steps when the view has them.
fn record(view: WorkflowView) -> Result<(WorkflowRecord, Vec<WorkflowStep>)> {
    let steps = view.steps.unwrap_or_default().into_iter().map(step).collect::<Result<Vec<_>>>()?;
    let job_id =
        view.job_id.as_deref().map(|id| JobId::parse(id).ok_or_else(|| bad_answer("job id", id))).transpose()?;
    let record = WorkflowRecord {
        namespace: Namespace::parse(&view.namespace).map_err(|_| bad_answer("namespace", &view.namespace))?,
        state: view.state.parse().map_err(|_| bad_answer("workflow state", &view.state))?,
        workflow_id: view.workflow_id,
        name: view.name,
        input: view.input,
        output: view.output,
        error: view.error,
        options: WorkflowOptions { queue: view.queue, priority: view.priority, timeout_ms: view.timeout_ms },
        parent_id: view.parent_id,
        job_id,
        cancel_requested: view.cancel_requested,
        created_at: timestamp(&view.created_at)?,
        updated_at: timestamp(&view.updated_at)?,
        finished_at: view.finished_at.as_deref().map(timestamp).transpose()?,
    };
    Ok((record, steps))
}

#[async_trait]
impl Backend for Remote {
    async fn start(&self, workflow: NewWorkflow) -> Result<(WorkflowRecord, bool)> {
        let view = self.client.start_workflow(&start_request(workflow)).await?;
        let created = view.created.unwrap_or(true);
        Ok((record(view)?.0, created))
    }

    async fn get(&self, workflow_id: &str) -> Result<(WorkflowRecord, Vec<WorkflowStep>)> {
        record(self.client.workflow(workflow_id).await?)
    }

    async fn list(&self, filter: ListFilter) -> Result<WorkflowPage> {
        let request = ListWorkflows {
            state: filter.state.map(|state| state.as_str().to_owned()),
            name: filter.name,
            cursor: filter.cursor,
            limit: filter.limit,
        };
        let page = self.client.list_workflows(&request).await?;
        let workflows = page.workflows.into_iter().map(|view| Ok(record(view)?.0)).collect::<Result<_>>()?;
        Ok(WorkflowPage { workflows, next_cursor: page.next_cursor })
    }

    async fn cancel(&self, workflow_id: &str) -> Result<WorkflowRecord> {
        Ok(record(self.client.cancel_workflow(workflow_id).await?)?.0)
    }

    async fn resume(&self, workflow_id: &str) -> Result<WorkflowRecord> {
        Ok(record(self.client.resume_workflow(workflow_id).await?)?.0)
    }

    async fn fork(&self, workflow_id: &str, new_id: &str, from_step: usize) -> Result<WorkflowRecord> {
        let request = ForkRequest { from_step, workflow_id: Some(new_id.to_owned()) };
        Ok(record(self.client.fork_workflow(workflow_id, &request).await?)?.0)
    }

    async fn send(&self, workflow_id: &str, topic: &str, message: Value) -> Result<()> {
        Ok(self.client.send_workflow_message(workflow_id, topic, message).await?)
    }

    async fn event(&self, workflow_id: &str, key: &str) -> Result<Option<Value>> {
        Ok(self.client.workflow_event(workflow_id, key).await?.value)
    }

    async fn wait_run(&self, workflow: &WorkflowRecord, wait: Duration) -> Result<WorkflowRecord> {
        if let Some(job_id) = workflow.job_id {
            self.client.job_result(&job_id.to_string(), wait.min(MAX_POLL)).await?;
        }
        Ok(record(self.client.workflow(&workflow.workflow_id).await?)?.0)
    }

    async fn fetch_runs(
        &self,
        queue: &str,
        names: &[String],
        worker_id: &str,
        max: u32,
        wait: Duration,
        lease: Duration,
    ) -> Result<Vec<Run>> {
        let request = FetchRequest {
            worker_id: worker_id.to_owned(),
            max_jobs: Some(max),
            wait_ms: Some(u64::try_from(wait.min(MAX_POLL).as_millis()).unwrap_or(u64::MAX)),
            lease_seconds: Some(lease.as_secs().max(1)),
            types: Some(names.to_vec()),
            ..FetchRequest::default()
        };
        let jobs = self.client.fetch_jobs(&[queue], request).await?;
        Ok(jobs
            .into_iter()
            .filter_map(|job| Run::of_job(&job.payload, job.job_type, job.job_id, job.lease_token))
            .collect())
    }

    async fn heartbeat(&self, run: &Run) -> Result<bool> {
        Ok(self.client.heartbeat_job(&run.job_id, run.lease_token, None).await?.cancel_requested)
    }

    async fn complete(&self, run: &Run, output: Value) -> Result<()> {
        self.client.complete_job(&run.job_id, run.lease_token, Some(output)).await?;
        Ok(())
    }

    async fn fail(&self, run: &Run, error: &str, retry_in: Option<Duration>, discard: bool) -> Result<()> {
        let request = FailRequest {
            lease_token: run.lease_token,
            error: error.to_owned(),
            retry_in_ms: retry_in.map(|delay| i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            discard,
            ..FailRequest::default()
        };
        self.client.fail_job(&run.job_id, request).await?;
        Ok(())
    }

    async fn record_step(&self, run: &Run, write: StepWrite) -> Result<WorkflowStep> {
        let effect = write.effect.map(|effect| match effect {
            Effect::Send { workflow_id, topic, message } => StepEffectBody::Send { workflow_id, topic, message },
            Effect::SetEvent { key, value } => StepEffectBody::SetEvent { key, value },
            Effect::StartChild(child) => StepEffectBody::StartChild(start_request(child)),
        });
        let request = RecordStepRequest {
            job_id: run.job_id.clone(),
            lease_token: run.lease_token,
            name: write.name,
            kind: Some(write.kind.as_str().to_owned()),
            output: write.output,
            error: write.error,
            attempts: Some(write.attempts),
            started_at: Some(write.started_at.to_rfc3339()),
            effect,
        };
        step(self.client.record_workflow_step(&run.workflow_id, write.index, &request).await?)
    }

    async fn recv(&self, run: &Run, index: usize, name: &str, topic: &str) -> Result<Option<WorkflowStep>> {
        let request = RecvRequest {
            job_id: run.job_id.clone(),
            lease_token: run.lease_token,
            name: name.to_owned(),
            topic: topic.to_owned(),
        };
        self.client.recv_workflow_message(&run.workflow_id, index, &request).await?.step.map(step).transpose()
    }
}
