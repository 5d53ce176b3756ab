//! The durable workflow rules that touch the store, written once for every backend over [`WorkflowTx`]. They
//! never commit: a backend runs them inside its transaction.
//!
//! A workflow's code runs in an executor (the SDK's, in the worker process or embedded); Baton keeps its
//! progress. Each run is a job of the workflow's queue, so queueing, priorities, leases and recovery are the
//! job engine's: an executor that dies stops heartbeating, the run's lease lapses, and another executor takes
//! the job and replays the workflow from its checkpoints.
//!
//! **Invariant:** a checkpoint is written only by the executor holding the current run's lease, once per step
//! index; a second write of the same index answers the first (its output wins), and a write that names another
//! step than the one recorded there is refused as non-deterministic. A step's effect (a message sent, an event
//! set, a child started) happens in the transaction that writes its checkpoint, so it happens exactly once.

use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::job::engine::{self as job_engine, JobTx};
use crate::job::{
    Backoff, BackoffStrategy, CompleteParams, EnqueueParams, FetchParams, Job, JobId, JobState, LeaseRef, LeaseToken,
    NewJob, RunAt,
};
use crate::namespace::Namespace;
use crate::saga::engine::SagaTx;
use crate::store::{Applied, Change};
use crate::workflow::model::{
    ForkParams, RecordStepParams, RecvParams, StartWorkflowParams, Started, StepEffect, StepKind, WORKFLOW_JOB_TAG,
    WorkflowRecord, WorkflowState, WorkflowStep,
};

/// A workflow's run as a checkpoint finds it: the run's job (what fences its executor) and the workflow, which
/// is `None` when no workflow has that id.
#[derive(Clone, Debug)]
pub struct LeasedRun {
    pub job_state: JobState,
    pub lease_token: Option<LeaseToken>,
    pub workflow: Option<WorkflowRecord>,
}

/// The statements a backend offers for workflows, inside the same transaction as its job statements.
#[allow(async_fn_in_trait)]
pub trait WorkflowTx: JobTx {
    /// The run's job and the workflow, in one read that holds both rows until commit on a cluster (the job's
    /// first, as the job engine holds them); `None` when the job is missing.
    async fn leased_run(&mut self, lease: &LeaseRef, workflow_id: &str) -> Result<Option<LeasedRun>, StoreError>;
    /// The workflow, its row held until commit on a cluster.
    async fn workflow_for_update(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError>;
    async fn workflow_by_job(
        &mut self,
        namespace: &Namespace,
        job_id: JobId,
    ) -> Result<Option<WorkflowRecord>, StoreError>;
    async fn insert_workflow(&mut self, workflow: &WorkflowRecord) -> Result<(), StoreError>;
    /// Whether a workflow or a saga has this id: both kinds share one key.
    async fn id_taken(&mut self, namespace: &Namespace, workflow_id: &str) -> Result<bool, StoreError>;
    /// The ids of the workflow's children still running.
    async fn running_children(&mut self, namespace: &Namespace, parent_id: &str) -> Result<Vec<String>, StoreError>;
    async fn update_workflow(&mut self, workflow: &WorkflowRecord) -> Result<(), StoreError>;
    /// Every recorded step, by index.
    async fn workflow_steps(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
    ) -> Result<Vec<WorkflowStep>, StoreError>;
    async fn workflow_step(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        index: usize,
    ) -> Result<Option<WorkflowStep>, StoreError>;
    /// Records the step unless its index is recorded already (`false`: nothing was written).
    async fn insert_workflow_step(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        step: &WorkflowStep,
    ) -> Result<bool, StoreError>;
    async fn insert_message(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        message: &Value,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Marks the oldest unconsumed message of the topic consumed, and answers it.
    async fn take_message(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        topic: &str,
        now: Timestamp,
    ) -> Result<Option<Value>, StoreError>;
    async fn put_event(
        &mut self,
        namespace: &Namespace,
        workflow_id: &str,
        key: &str,
        value: &Value,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    async fn event(&mut self, namespace: &Namespace, workflow_id: &str, key: &str)
    -> Result<Option<Value>, StoreError>;
}

/// Starts a workflow and enqueues its first run; a workflow with this id already answers instead (`false`).
pub async fn start<T: WorkflowTx>(
    tx: &mut T,
    params: &StartWorkflowParams,
) -> Result<Applied<(WorkflowRecord, bool)>, Error> {
    // One lookup for a new id, the usual case. A taken id is a workflow's (answered with it) or a saga's: the two
    // kinds share one key, so inserting would break it (a 500).
    if tx.id_taken(&params.namespace, &params.workflow_id).await? {
        return match tx.workflow_for_update(&params.namespace, &params.workflow_id).await? {
            Some(existing) => Ok(Applied::quiet((existing, false))),
            None => Err(Error::WorkflowExists { workflow_id: params.workflow_id.clone() }),
        };
    }
    let now = tx.now().await?;
    let mut workflow = WorkflowRecord {
        namespace: params.namespace.clone(),
        workflow_id: params.workflow_id.clone(),
        name: params.name.clone(),
        state: WorkflowState::Running,
        input: params.input.clone(),
        output: None,
        error: None,
        options: params.options.clone(),
        parent_id: params.parent_id.clone(),
        job_id: None,
        cancel_requested: false,
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let changes = enqueue_run(tx, &mut workflow).await?;
    tx.insert_workflow(&workflow).await?;
    Ok(Applied::with((workflow, true), changes))
}

/// Starts a workflow as [`start`] does and, when it is new, fetches with `fetch` in the same transaction: an
/// idle executor of this process gets its next runs (this one, unless the queue holds older or more urgent
/// ones) without a commit of its own. The fetch is the executor's, so the queue's limits and order hold.
pub async fn start_taking<T: SagaTx>(
    tx: &mut T,
    params: &StartWorkflowParams,
    fetch: &FetchParams,
) -> Result<Applied<Started>, Error> {
    let Applied { value: (workflow, created), mut changes } = start(tx, params).await?;
    if !created {
        return Ok(Applied::with(Started { workflow, created, taken: Vec::new() }, changes));
    }
    let Applied { value: fetched, changes: fetch_changes } = job_engine::fetch(tx, fetch).await?;
    // The run is taken already: waking the queue's other polls would only send them looking for it.
    if fetched.jobs.iter().any(|job| Some(job.job_id) == workflow.job_id) {
        changes.retain(|change| !matches!(change, Change::JobsAvailable { .. }));
    }
    changes.extend(fetch_changes);
    Ok(Applied::with(Started { workflow, created, taken: fetched.jobs }, changes))
}

/// Completes the run that `complete.lease` holds with its output, and answers the workflow as the run's end
/// left it (completed, unless it had finished before), so the executor's process can tell its waiters
/// without a read.
pub async fn complete_run<T: SagaTx>(
    tx: &mut T,
    workflow_id: &str,
    complete: &CompleteParams,
) -> Result<Applied<WorkflowRecord>, Error> {
    // Read before the job moves (which also brings the clock): the answer is this record as the run's end
    // moves it, by the same rule the job engine's finalize hook writes it with.
    let leased = tx.leased_run(&complete.lease, workflow_id).await?;
    let workflow = leased
        .and_then(|leased| leased.workflow)
        .ok_or_else(|| Error::WorkflowNotFound { workflow_id: workflow_id.to_owned() })?;
    let Applied { value: mut outcomes, changes } = job_engine::complete(tx, std::slice::from_ref(complete)).await?;
    let job = outcomes.pop().ok_or_else(|| Error::JobNotFound { job_id: complete.lease.job_id.to_string() })??;
    let now = tx.now().await?;
    let ended = ended_by(&workflow, &job, now).unwrap_or(workflow);
    Ok(Applied::with(ended, changes))
}

/// Enqueues a run of the workflow as a job of its queue, and names it on the record (not yet written).
async fn enqueue_run<T: WorkflowTx>(tx: &mut T, workflow: &mut WorkflowRecord) -> Result<Vec<Change>, Error> {
    let job_id = JobId::new();
    let run = NewJob {
        job_id,
        queue: workflow.options.queue.clone(),
        job_type: workflow.name.clone(),
        payload: json!({"workflow_id": workflow.workflow_id, "name": workflow.name, "input": workflow.input}),
        priority: workflow.options.priority,
        run_at: RunAt::Now,
        // A run ends only by the executor's word (or a cancel); every lapsed lease is a crash to recover from.
        max_attempts: 1000,
        backoff: Backoff { strategy: BackoffStrategy::Fixed, initial_delay_ms: 0, max_delay_ms: 0, jitter: 0.0 },
        timeout_ms: None,
        unique: None,
        concurrency_key: None,
        tags: vec![WORKFLOW_JOB_TAG.into()],
        metadata: None,
        trace_context: None,
    };
    let enqueued =
        job_engine::enqueue(tx, &EnqueueParams { namespace: workflow.namespace.clone(), jobs: vec![run] }).await?;
    workflow.job_id = Some(job_id);
    Ok(enqueued.changes)
}

/// The workflow whose current run `lease` holds, refusing a stale executor, a finished or cancelled workflow,
/// and one past its timeout.
async fn fenced<T: WorkflowTx>(tx: &mut T, lease: &LeaseRef, workflow_id: &str) -> Result<WorkflowRecord, Error> {
    let leased = tx
        .leased_run(lease, workflow_id)
        .await?
        .ok_or_else(|| Error::JobNotFound { job_id: lease.job_id.to_string() })?;
    job_engine::refuse_stale(lease, leased.job_state, leased.lease_token)?;
    let workflow = leased.workflow.ok_or_else(|| Error::WorkflowNotFound { workflow_id: workflow_id.to_owned() })?;
    if workflow.job_id != Some(lease.job_id) {
        return Err(Error::StaleToken {
            job_id: lease.job_id.to_string(),
            lease_token: lease.lease_token.0,
            state: JobState::Running,
        });
    }
    if workflow.state.is_finished() {
        return Err(Error::WorkflowFinished { workflow_id: workflow_id.to_owned(), state: workflow.state });
    }
    let now = tx.now().await?;
    if workflow.cancel_requested || workflow.deadline().is_some_and(|deadline| deadline <= now) {
        return Err(Error::WorkflowCancelled { workflow_id: workflow_id.to_owned() });
    }
    Ok(workflow)
}

async fn existing<T: WorkflowTx>(
    tx: &mut T,
    namespace: &Namespace,
    workflow_id: &str,
) -> Result<WorkflowRecord, Error> {
    tx.workflow_for_update(namespace, workflow_id)
        .await?
        .ok_or_else(|| Error::WorkflowNotFound { workflow_id: workflow_id.to_owned() })
}

/// The step already recorded at `index`, if any, refusing a replay that asks for a different one there.
async fn recorded<T: WorkflowTx>(
    tx: &mut T,
    namespace: &Namespace,
    workflow_id: &str,
    index: usize,
    name: &str,
    kind: StepKind,
) -> Result<Option<WorkflowStep>, Error> {
    let Some(step) = tx.workflow_step(namespace, workflow_id, index).await? else {
        return Ok(None);
    };
    if step.name != name || step.kind != kind {
        return Err(Error::NonDeterministic {
            workflow_id: workflow_id.to_owned(),
            index,
            recorded: format!("{} '{}'", step.kind.as_str(), step.name),
            requested: format!("{} '{name}'", kind.as_str()),
        });
    }
    Ok(Some(step))
}

/// Writes a checkpoint and applies its effect, once: a repeat of the same step answers the first write.
pub async fn record_step<T: WorkflowTx>(tx: &mut T, params: &RecordStepParams) -> Result<Applied<WorkflowStep>, Error> {
    let namespace = &params.lease.namespace;
    fenced(tx, &params.lease, &params.workflow_id).await?;
    let now = tx.now().await?;
    let step = WorkflowStep {
        index: params.index,
        name: params.name.clone(),
        kind: params.kind,
        output: params.output.clone(),
        error: params.error.clone(),
        attempts: params.attempts,
        started_at: params.started_at.unwrap_or(now).min(now),
        finished_at: now,
    };
    // The checkpoint before its effect: a repeat finds its index taken, writes nothing and answers the first
    // write, so only the write that recorded the step applies the effect (an effect that fails undoes it).
    if !tx.insert_workflow_step(namespace, &params.workflow_id, &step).await? {
        let first = recorded(tx, namespace, &params.workflow_id, params.index, &params.name, params.kind).await?;
        return first.map(Applied::quiet).ok_or_else(|| StoreError::Internal("a step vanished".into()).into());
    }
    let mut changes = Vec::new();
    match &params.effect {
        None => {}
        Some(StepEffect::Send { workflow_id, topic, message }) => {
            existing(tx, namespace, workflow_id).await?;
            tx.insert_message(namespace, workflow_id, topic, message, now).await?;
        }
        Some(StepEffect::SetEvent { key, value }) => {
            tx.put_event(namespace, &params.workflow_id, key, value, now).await?;
        }
        Some(StepEffect::StartChild(child)) => changes.extend(start(tx, child).await?.changes),
    }
    Ok(Applied::with(step, changes))
}

/// Takes the oldest waiting message of the topic as step `index` (its checkpoint and the message's consumption
/// in one transaction, so a message is received exactly once); `None` when none waits yet.
pub async fn recv<T: WorkflowTx>(tx: &mut T, params: &RecvParams) -> Result<Applied<Option<WorkflowStep>>, Error> {
    let namespace = &params.lease.namespace;
    fenced(tx, &params.lease, &params.workflow_id).await?;
    if let Some(step) = recorded(tx, namespace, &params.workflow_id, params.index, &params.name, StepKind::Recv).await?
    {
        return Ok(Applied::quiet(Some(step)));
    }
    let now = tx.now().await?;
    let Some(message) = tx.take_message(namespace, &params.workflow_id, &params.topic, now).await? else {
        return Ok(Applied::quiet(None));
    };
    let step = WorkflowStep {
        index: params.index,
        name: params.name.clone(),
        kind: StepKind::Recv,
        output: Some(message),
        error: None,
        attempts: 1,
        started_at: now,
        finished_at: now,
    };
    tx.insert_workflow_step(namespace, &params.workflow_id, &step).await?;
    Ok(Applied::quiet(Some(step)))
}

/// Sends a message from outside any workflow.
pub async fn send<T: WorkflowTx>(
    tx: &mut T,
    namespace: &Namespace,
    workflow_id: &str,
    topic: &str,
    message: &Value,
) -> Result<Applied<()>, Error> {
    existing(tx, namespace, workflow_id).await?;
    let now = tx.now().await?;
    tx.insert_message(namespace, workflow_id, topic, message, now).await?;
    Ok(Applied::quiet(()))
}

/// Ends the workflow whose run `job` was, if any. Called by the job engine in the transaction that finalized
/// `job`: a completed run completes the workflow with the job's result; a discarded one fails it (or cancels
/// it, when a cancel or the timeout stopped it); a cancelled one cancels it.
pub async fn on_run_finalized<T: WorkflowTx>(tx: &mut T, job: &Job) -> Result<Vec<Change>, Error> {
    if !job.tags.iter().any(|tag| tag == WORKFLOW_JOB_TAG) {
        return Ok(Vec::new());
    }
    let Some(workflow) = tx.workflow_by_job(&job.namespace, job.job_id).await? else {
        return Ok(Vec::new());
    };
    let now = tx.now().await?;
    if let Some(ended) = ended_by(&workflow, job, now) {
        tx.update_workflow(&ended).await?;
    }
    Ok(Vec::new())
}

/// The workflow as the end of its run `job` leaves it; `None` when that end changes nothing: the job is not
/// its current run, the workflow finished before, or the job has not reached a terminal state.
fn ended_by(workflow: &WorkflowRecord, job: &Job, now: Timestamp) -> Option<WorkflowRecord> {
    if workflow.job_id != Some(job.job_id) || workflow.state.is_finished() {
        return None;
    }
    let timed_out = workflow.deadline().is_some_and(|deadline| deadline <= now);
    let mut ended = workflow.clone();
    ended.state = match job.state {
        JobState::Completed => WorkflowState::Completed,
        JobState::Cancelled => WorkflowState::Cancelled,
        JobState::Discarded if workflow.cancel_requested || timed_out => WorkflowState::Cancelled,
        JobState::Discarded => WorkflowState::Failed,
        _ => return None,
    };
    match ended.state {
        WorkflowState::Completed => ended.output = job.result.clone(),
        WorkflowState::Cancelled if timed_out => {
            ended.error = Some(format!("timed out after {} ms", workflow.options.timeout_ms.unwrap_or(0)));
        }
        _ => ended.error = job.errors.last().map(|error| error.error.clone()),
    }
    ended.updated_at = now;
    ended.finished_at = Some(now);
    Some(ended)
}

/// Cancels a workflow that has not finished, and with it its running children (and theirs): a waiting run
/// ends at once; a running one is flagged, and its executor stops at its next checkpoint or heartbeat.
pub async fn cancel<T: SagaTx>(
    tx: &mut T,
    namespace: &Namespace,
    workflow_id: &str,
) -> Result<Applied<WorkflowRecord>, Error> {
    let workflow = existing(tx, namespace, workflow_id).await?;
    if workflow.state.is_finished() {
        return Err(Error::WorkflowFinished { workflow_id: workflow_id.to_owned(), state: workflow.state });
    }
    let mut changes = Vec::new();
    let mut to_cancel = vec![workflow_id.to_owned()];
    while let Some(next) = to_cancel.pop() {
        changes.extend(cancel_one(tx, namespace, &next).await?);
        to_cancel.extend(tx.running_children(namespace, &next).await?);
    }
    let workflow = existing(tx, namespace, workflow_id).await?;
    Ok(Applied::with(workflow, changes))
}

/// Flags one running workflow cancelled and cancels its run's job.
async fn cancel_one<T: SagaTx>(tx: &mut T, namespace: &Namespace, workflow_id: &str) -> Result<Vec<Change>, Error> {
    let mut workflow = existing(tx, namespace, workflow_id).await?;
    if workflow.state.is_finished() {
        return Ok(Vec::new());
    }
    workflow.cancel_requested = true;
    workflow.updated_at = tx.now().await?;
    tx.update_workflow(&workflow).await?;
    let mut changes = Vec::new();
    if let Some(job_id) = workflow.job_id {
        match job_engine::cancel(tx, namespace, job_id).await {
            Ok(cancelled) => changes.extend(cancelled.changes),
            // The run already ended (a race with its executor): the workflow follows that end.
            Err(Error::InvalidJobState { .. } | Error::JobNotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(changes)
}

/// Runs a failed or cancelled workflow again from its checkpoints, without its timeout; a running one is
/// left as it is.
pub async fn resume<T: WorkflowTx>(
    tx: &mut T,
    namespace: &Namespace,
    workflow_id: &str,
) -> Result<Applied<WorkflowRecord>, Error> {
    let mut workflow = existing(tx, namespace, workflow_id).await?;
    match workflow.state {
        WorkflowState::Running => return Ok(Applied::quiet(workflow)),
        WorkflowState::Completed => {
            return Err(Error::WorkflowFinished { workflow_id: workflow_id.to_owned(), state: workflow.state });
        }
        WorkflowState::Failed | WorkflowState::Cancelled => {}
    }
    let changes = enqueue_run(tx, &mut workflow).await?;
    workflow.state = WorkflowState::Running;
    workflow.cancel_requested = false;
    workflow.error = None;
    workflow.options.timeout_ms = None;
    workflow.updated_at = tx.now().await?;
    workflow.finished_at = None;
    tx.update_workflow(&workflow).await?;
    Ok(Applied::with(workflow, changes))
}

/// Starts a new workflow with the same name, input and options, reusing the checkpoints before `from_step`.
pub async fn fork<T: WorkflowTx>(tx: &mut T, params: &ForkParams) -> Result<Applied<WorkflowRecord>, Error> {
    let source = existing(tx, &params.namespace, &params.workflow_id).await?;
    if tx.id_taken(&params.namespace, &params.new_id).await? {
        return Err(Error::WorkflowExists { workflow_id: params.new_id.clone() });
    }
    let steps = tx.workflow_steps(&params.namespace, &params.workflow_id).await?;
    for step in steps.iter().filter(|step| step.index < params.from_step) {
        tx.insert_workflow_step(&params.namespace, &params.new_id, step).await?;
    }
    let start_params = StartWorkflowParams {
        namespace: params.namespace.clone(),
        workflow_id: params.new_id.clone(),
        name: source.name,
        input: source.input,
        options: source.options,
        parent_id: None,
    };
    let started = start(tx, &start_params).await?;
    Ok(Applied::with(started.value.0, started.changes))
}

/// A workflow and its steps, for reads.
pub async fn get<T: WorkflowTx>(
    tx: &mut T,
    namespace: &Namespace,
    workflow_id: &str,
) -> Result<(WorkflowRecord, Vec<WorkflowStep>), Error> {
    let workflow = existing(tx, namespace, workflow_id).await?;
    let steps = tx.workflow_steps(namespace, workflow_id).await?;
    Ok((workflow, steps))
}
