//! The engine in this process: workflows run on a SQLite file or a PostgreSQL database through `baton-core`,
//! with no Baton server. The job engine's duties that a server would run (waking fetchers on new runs,
//! recovering runs whose executor died) run here, for as long as the [`Embedded`] lives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use baton_core::clock::SystemClock;
use baton_core::job::service::{FetchRequest, lease_ref};
use baton_core::job::{CompleteParams, FailParams, Job, JobReaper, JobReaperOptions, JobService, PollClaim};
use baton_core::namespace::Namespace;
use baton_core::store::Store;
use baton_core::workflow::service::ListWorkflowsRequest;
use baton_core::workflow::{
    ForkParams, RecordStepParams, RecvParams, StartWorkflowParams, StepEffect, WorkflowRecord, WorkflowService,
    WorkflowStep,
};
use baton_core::{Error, Limits};
use baton_postgres::{PgOptions, PgStore};
use baton_sqlite::{SqliteOptions, SqliteStore};
use serde_json::Value;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::backend::{Backend, Effect, ListFilter, NewWorkflow, Result, Run, StepWrite, WorkflowPage};
use crate::error::WorkflowError;
use crate::local::{Endings, HandedOver};

/// Baton's engine in process, over a store it opened or was given.
pub struct Embedded {
    namespace: Namespace,
    jobs: JobService,
    workflows: WorkflowService,
    /// Runs a start handed straight to this process's idle executor (see `Backend::start` below).
    handed_over: Arc<HandedOver>,
    /// Callers of this process waiting on a workflow that this process's executor may complete.
    endings: Arc<Endings>,
    _duties: DropGuard,
}

impl Embedded {
    /// A SQLite store in `data_dir` (created if missing), with durable commits; it takes the directory's lock,
    /// so no server may use it meanwhile.
    pub async fn sqlite(data_dir: impl Into<PathBuf>) -> Result<Self> {
        let store = SqliteStore::open(SqliteOptions::new(data_dir), Arc::new(SystemClock))
            .await
            .map_err(|error| WorkflowError::Unavailable(format!("opening the SQLite store: {error}")))?;
        Ok(Self::with_store(Arc::new(store)))
    }

    /// A PostgreSQL store; other processes (executors, Baton servers) may share the database.
    pub async fn postgres(options: PgOptions) -> Result<Self> {
        let store = PgStore::connect(options)
            .await
            .map_err(|error| WorkflowError::Unavailable(format!("opening PostgreSQL: {error}")))?;
        Ok(Self::with_store(Arc::new(store)))
    }

    /// Over an open store; must be called inside a Tokio runtime (it spawns the job duties).
    pub fn with_store(store: Arc<dyn Store>) -> Self {
        let limits = Limits::default();
        let jobs = JobService::new(store.clone(), limits.clone());
        let shutdown = CancellationToken::new();
        tokio::spawn({
            let (jobs, shutdown) = (jobs.clone(), shutdown.clone());
            async move { jobs.run_wakeups(shutdown).await }
        });
        tokio::spawn(JobReaper::new(store.clone(), JobReaperOptions::default()).run(shutdown.clone()));
        Self {
            namespace: Namespace::default(),
            jobs,
            workflows: WorkflowService::new(store, limits),
            handed_over: Arc::default(),
            endings: Arc::default(),
            _duties: shutdown.drop_guard(),
        }
    }

    fn start_params(&self, workflow: NewWorkflow) -> StartWorkflowParams {
        StartWorkflowParams {
            namespace: self.namespace.clone(),
            workflow_id: workflow.workflow_id,
            name: workflow.name,
            input: workflow.input,
            options: workflow.options,
            parent_id: workflow.parent_id,
        }
    }

    fn lease(&self, run: &Run) -> Result<baton_core::job::LeaseRef> {
        Ok(lease_ref(self.namespace.clone(), &run.job_id, run.lease_token)?)
    }
}

/// A start that takes its run for this process's idle executor, and what it needs to deliver it.
struct HandOff {
    jobs: JobService,
    workflows: WorkflowService,
    handed_over: Arc<HandedOver>,
}

impl HandOff {
    /// Starts the workflow, taking the claimed poll's runs in the same transaction, and delivers them.
    async fn start(self, params: StartWorkflowParams, claim: PollClaim) -> Result<(WorkflowRecord, bool)> {
        let started = self.workflows.start_taking(params, &claim).await?;
        let own_run = started.workflow.job_id.filter(|run| started.taken.iter().any(|job| job.job_id == *run));
        if let Some(run) = own_run.filter(|_| started.created) {
            self.handed_over.put(run.to_string(), started.workflow.clone());
        }
        if let Err(taken) = claim.deliver(started.taken) {
            self.hand_back(taken).await;
        }
        Ok((started.workflow, started.created))
    }

    /// Puts back in the queue runs taken for an executor that stopped waiting before it got them.
    async fn hand_back(&self, taken: Vec<Job>) {
        for job in &taken {
            // Its first replay will read the workflow like any other.
            self.handed_over.take(&job.job_id.to_string());
        }
        self.jobs.hand_back(taken).await;
    }
}

/// The one answer of a single-item acknowledgement.
fn single(mut results: Vec<std::result::Result<baton_core::job::Job, Error>>) -> Result<()> {
    match results.pop() {
        Some(result) => result.map(drop).map_err(WorkflowError::from),
        None => Err(WorkflowError::Unavailable("the store answered no outcome".into())),
    }
}

#[async_trait]
impl Backend for Embedded {
    /// With an idle executor of this process waiting on the workflow's queue, the start takes that executor's
    /// next runs in its own transaction and hands them over: the run begins without a fetch commit, a
    /// wake-up, or a read of what the start just wrote.
    async fn start(&self, workflow: NewWorkflow) -> Result<(WorkflowRecord, bool)> {
        let params = self.start_params(workflow);
        let Some(claim) = self.jobs.claim_idle_poll(&self.namespace, &params.options.queue, &params.name) else {
            return Ok(self.workflows.start(params).await?);
        };
        let hand_off = HandOff {
            jobs: self.jobs.clone(),
            workflows: self.workflows.clone(),
            handed_over: self.handed_over.clone(),
        };
        // On a task of its own: a caller that stops waiting must not strand the run, which the start may commit
        // all the same, leased to the executor; only this task can deliver it.
        match tokio::spawn(hand_off.start(params, claim)).await {
            Ok(started) => started,
            Err(error) => Err(WorkflowError::Unavailable(format!("the start's hand-off failed: {error}"))),
        }
    }

    async fn get(&self, workflow_id: &str) -> Result<(WorkflowRecord, Vec<WorkflowStep>)> {
        Ok(self.workflows.get(&self.namespace, workflow_id).await?)
    }

    async fn load_run(&self, run: &Run) -> Result<(WorkflowRecord, Vec<WorkflowStep>)> {
        match self.handed_over.take(&run.job_id) {
            Some(workflow) => Ok((workflow, Vec::new())),
            None => self.get(&run.workflow_id).await,
        }
    }

    async fn list(&self, filter: ListFilter) -> Result<WorkflowPage> {
        let request = ListWorkflowsRequest {
            namespace: self.namespace.clone(),
            state: filter.state,
            name: filter.name,
            cursor: filter.cursor,
            limit: filter.limit,
        };
        let page = self.workflows.list(request).await?;
        Ok(WorkflowPage { workflows: page.items, next_cursor: page.next_cursor })
    }

    async fn cancel(&self, workflow_id: &str) -> Result<WorkflowRecord> {
        Ok(self.workflows.cancel(&self.namespace, workflow_id).await?)
    }

    async fn resume(&self, workflow_id: &str) -> Result<WorkflowRecord> {
        Ok(self.workflows.resume(&self.namespace, workflow_id).await?)
    }

    async fn fork(&self, workflow_id: &str, new_id: &str, from_step: usize) -> Result<WorkflowRecord> {
        let params = ForkParams {
            namespace: self.namespace.clone(),
            workflow_id: workflow_id.to_owned(),
            new_id: new_id.to_owned(),
            from_step,
        };
        Ok(self.workflows.fork(params).await?)
    }

    async fn send(&self, workflow_id: &str, topic: &str, message: Value) -> Result<()> {
        Ok(self.workflows.send(&self.namespace, workflow_id, topic, message).await?)
    }

    async fn event(&self, workflow_id: &str, key: &str) -> Result<Option<Value>> {
        Ok(self.workflows.event(&self.namespace, workflow_id, key).await?)
    }

    /// Told by this process's executor when it completes the run; otherwise (another process's executor, a
    /// failure, a cancel) woken by the run's job ending, then read.
    async fn wait_run(&self, workflow: &WorkflowRecord, wait: Duration) -> Result<WorkflowRecord> {
        if let Some(job_id) = workflow.job_id {
            let mut ending = self.endings.watch(&workflow.workflow_id);
            let deadline = std::time::Instant::now() + wait;
            tokio::select! {
                ended = ending.ended() => return Ok(ended),
                finished = self.jobs.wait_for_finish(&self.namespace, job_id, deadline) => { finished?; }
            }
        }
        Ok(self.workflows.get(&self.namespace, &workflow.workflow_id).await?.0)
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
            namespace: self.namespace.clone(),
            queues: vec![queue.to_owned()],
            worker_id: worker_id.to_owned(),
            max_jobs: Some(max),
            wait: Some(wait),
            lease: Some(lease),
            job_types: Some(names.to_vec()),
            complete: Vec::new(),
            // This executor lives and dies with the store's process.
            in_process: true,
        };
        let (jobs, _) = self.jobs.fetch(request).await?;
        Ok(jobs
            .into_iter()
            .filter_map(|job| {
                Run::of_job(&job.payload, job.job_type, job.job_id.to_string(), job.lease_token.map(|token| token.0))
            })
            .collect())
    }

    async fn heartbeat(&self, run: &Run) -> Result<bool> {
        Ok(self.jobs.heartbeat(self.lease(run)?, None, None).await?.cancel_requested)
    }

    async fn complete(&self, run: &Run, output: Value) -> Result<()> {
        let complete = CompleteParams { lease: self.lease(run)?, result: Some(output) };
        let workflow = self.workflows.complete_run(&run.workflow_id, complete).await?;
        if workflow.state.is_finished() {
            self.endings.tell(&workflow);
        }
        Ok(())
    }

    async fn fail(&self, run: &Run, error: &str, retry_in: Option<Duration>, discard: bool) -> Result<()> {
        let params = FailParams {
            lease: self.lease(run)?,
            error: error.to_owned(),
            retry_in_ms: retry_in.map(|delay| i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            discard,
        };
        single(self.jobs.fail(vec![params]).await?)
    }

    async fn record_step(&self, run: &Run, step: StepWrite) -> Result<WorkflowStep> {
        let effect = step.effect.map(|effect| match effect {
            Effect::Send { workflow_id, topic, message } => StepEffect::Send { workflow_id, topic, message },
            Effect::SetEvent { key, value } => StepEffect::SetEvent { key, value },
            Effect::StartChild(child) => StepEffect::StartChild(self.start_params(child)),
        });
        let params = RecordStepParams {
            lease: self.lease(run)?,
            workflow_id: run.workflow_id.clone(),
            index: step.index,
            name: step.name,
            kind: step.kind,
            output: step.output,
            error: step.error,
            attempts: step.attempts,
            started_at: Some(step.started_at),
            effect,
        };
        Ok(self.workflows.record_step(params).await?)
    }

    async fn recv(&self, run: &Run, index: usize, name: &str, topic: &str) -> Result<Option<WorkflowStep>> {
        let params = RecvParams {
            lease: self.lease(run)?,
            workflow_id: run.workflow_id.clone(),
            index,
            name: name.to_owned(),
            topic: topic.to_owned(),
        };
        Ok(self.workflows.recv(params).await?)
    }
}
