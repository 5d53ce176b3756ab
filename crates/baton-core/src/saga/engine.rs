//! The saga rules that touch the store, written once for every backend over [`SagaTx`], like the job engine.
//! They never commit: a backend runs them inside its transaction.
//!
//! **Invariant:** a saga moves only in the transaction that finalizes the job of its current step
//! ([`on_job_finalized`], called by the job engine's completion, failure, cancel and lease-expiry paths) or
//! that starts or cancels it. There is no poller, so no job end is applied twice: the job can be finalized
//! once, and a stale worker's completion is already refused by its lease token.

use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::job::engine as job_engine;
use crate::job::{EnqueueParams, Job, JobId, JobState, NewJob, RunAt};
use crate::namespace::Namespace;
use crate::saga::model::{SagaId, SagaSpec, SagaState, StepPhase, StepSpec, StepState};
use crate::saga::rules::{self, Outcome, Transition};
use crate::saga::spec;
use crate::store::{Applied, Change};
use crate::workflow::engine::WorkflowTx;

/// One saga as stored (a `workflows` row of kind `saga`).
#[derive(Clone, Debug, PartialEq)]
pub struct SagaRecord {
    pub namespace: Namespace,
    pub saga_id: SagaId,
    pub name: String,
    pub state: SagaState,
    pub input: Option<Value>,
    pub metadata: Option<Value>,
    /// The step running (forward) or being compensated (backward); `None` once finished.
    pub current_step: Option<usize>,
    pub idempotency_key: Option<String>,
    /// The step whose compensation gave out, for a `compensation_failed` saga.
    pub failed_step: Option<usize>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One phase of one step as stored (a `workflow_steps` row).
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub index: usize,
    pub phase: StepPhase,
    pub spec: StepSpec,
    pub state: StepState,
    pub job_id: Option<JobId>,
    pub attempts: u32,
    pub output: Option<Value>,
    pub errors: Vec<Value>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// Which step phase a job performs (a `workflow_step_jobs` row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepLink {
    pub saga_id: SagaId,
    pub index: usize,
    pub phase: StepPhase,
}

/// The statements a backend offers for sagas, inside the same transaction as its job statements.
#[allow(async_fn_in_trait)]
pub trait SagaTx: WorkflowTx {
    async fn find_saga_by_key(&mut self, namespace: &Namespace, key: &str) -> Result<Option<SagaRecord>, StoreError>;
    async fn insert_saga(&mut self, saga: &SagaRecord, steps: &[StepRecord]) -> Result<(), StoreError>;
    /// The saga, its row held until commit on a cluster.
    async fn saga_for_update(
        &mut self,
        namespace: &Namespace,
        saga_id: SagaId,
    ) -> Result<Option<SagaRecord>, StoreError>;
    /// Every step phase of the saga, by step then phase.
    async fn saga_steps(&mut self, namespace: &Namespace, saga_id: SagaId) -> Result<Vec<StepRecord>, StoreError>;
    async fn update_saga(&mut self, saga: &SagaRecord) -> Result<(), StoreError>;
    async fn update_step(
        &mut self,
        namespace: &Namespace,
        saga_id: SagaId,
        step: &StepRecord,
    ) -> Result<(), StoreError>;
    async fn link_job(&mut self, namespace: &Namespace, job_id: JobId, link: StepLink) -> Result<(), StoreError>;
    async fn job_link(&mut self, namespace: &Namespace, job_id: JobId) -> Result<Option<StepLink>, StoreError>;
}

/// Starts a saga and enqueues its first step's job, answering it with its steps; with an idempotency key already
/// used, answers the saga that key started instead (`false`: nothing new was created).
pub async fn start<T: SagaTx>(
    tx: &mut T,
    namespace: &Namespace,
    spec: SagaSpec,
) -> Result<Applied<(SagaRecord, Vec<StepRecord>, bool)>, Error> {
    if let Some(key) = &spec.idempotency_key
        && let Some(existing) = tx.find_saga_by_key(namespace, key).await?
    {
        let steps = tx.saga_steps(namespace, existing.saga_id).await?;
        return Ok(Applied::quiet((existing, steps, false)));
    }
    let now = tx.now().await?;
    let saga = SagaRecord {
        namespace: namespace.clone(),
        saga_id: SagaId::new(),
        name: spec.name,
        state: SagaState::Running,
        input: spec.input,
        metadata: spec.metadata,
        current_step: Some(0),
        idempotency_key: spec.idempotency_key,
        failed_step: None,
        error: None,
        cancel_requested: false,
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let mut steps: Vec<StepRecord> = Vec::new();
    for (index, step) in spec.steps.into_iter().enumerate() {
        for phase in [StepPhase::Action, StepPhase::Compensation] {
            if phase == StepPhase::Compensation && step.compensation.is_none() {
                continue;
            }
            steps.push(StepRecord {
                index,
                phase,
                spec: step.clone(),
                state: StepState::Pending,
                job_id: None,
                attempts: 0,
                output: None,
                errors: Vec::new(),
                started_at: None,
                finished_at: None,
            });
        }
    }
    tx.insert_saga(&saga, &steps).await?;
    let mut saga = saga;
    let run = Transition::Run { state: SagaState::Running, step: 0, phase: StepPhase::Action };
    let changes = apply(tx, &mut saga, &mut steps, run, now).await?;
    Ok(Applied::with((saga, steps, true), changes))
}

/// The tag on every job a saga enqueues; [`on_job_finalized`] looks up a saga link only for jobs with it.
pub const SAGA_JOB_TAG: &str = "saga";

/// Moves the saga a finalized job belongs to, if any. Called by the job engine, in the transaction that
/// finalized `job`; a job of no saga, or of a step the saga has already left, changes nothing.
pub async fn on_job_finalized<T: SagaTx>(tx: &mut T, job: &Job) -> Result<Vec<Change>, Error> {
    // Every job's end passes here: a job no saga started costs no lookup of a link it cannot have.
    if !job.tags.iter().any(|tag| tag == SAGA_JOB_TAG) {
        return Ok(Vec::new());
    }
    let outcome = match job.state {
        JobState::Completed => Outcome::Completed,
        JobState::Discarded => Outcome::Dead,
        JobState::Cancelled => Outcome::Cancelled,
        _ => return Ok(Vec::new()),
    };
    let Some(link) = tx.job_link(&job.namespace, job.job_id).await? else {
        return Ok(Vec::new());
    };
    let Some(mut saga) = tx.saga_for_update(&job.namespace, link.saga_id).await? else {
        return Ok(Vec::new());
    };
    if saga.state.is_finished() || saga.current_step != Some(link.index) {
        return Ok(Vec::new());
    }
    let mut steps = tx.saga_steps(&job.namespace, link.saga_id).await?;
    let Some(step) = steps.iter_mut().find(|s| s.index == link.index && s.phase == link.phase) else {
        return Ok(Vec::new());
    };
    if step.job_id != Some(job.job_id) || step.state != StepState::Running {
        return Ok(Vec::new());
    }
    let now = tx.now().await?;
    record_outcome(step, job, outcome, now);
    let step = step.clone();
    tx.update_step(&job.namespace, link.saga_id, &step).await?;
    let specs: Vec<StepSpec> = action_specs(&steps);
    let transition = rules::advance(&specs, link.index, link.phase, outcome, saga.cancel_requested);
    apply(tx, &mut saga, &mut steps, transition, now).await
}

/// Cancels a saga that is not finished: the in-flight step's job is cancelled (at once if it waits; flagged if
/// a worker runs it, and the saga waits for that job to end), then what completed is compensated and the saga
/// ends `cancelled`. A saga already compensating goes on compensating and then ends `cancelled`.
pub async fn cancel<T: SagaTx>(
    tx: &mut T,
    namespace: &Namespace,
    saga_id: SagaId,
) -> Result<Applied<SagaRecord>, Error> {
    let mut saga = tx
        .saga_for_update(namespace, saga_id)
        .await?
        .ok_or_else(|| Error::SagaNotFound { saga_id: saga_id.to_string() })?;
    if saga.state.is_finished() {
        return Err(Error::SagaFinished { saga_id: saga_id.to_string(), state: saga.state });
    }
    let now = tx.now().await?;
    saga.cancel_requested = true;
    saga.updated_at = now;
    tx.update_saga(&saga).await?;
    let mut changes = Vec::new();
    if saga.state == SagaState::Running {
        let steps = tx.saga_steps(namespace, saga_id).await?;
        let job_id = saga
            .current_step
            .and_then(|index| steps.iter().find(|s| s.index == index && s.phase == StepPhase::Action))
            .and_then(|step| step.job_id);
        if let Some(job_id) = job_id {
            // A waiting job ends at once, and the job engine moves the saga in this transaction; a running one
            // is flagged, and the saga moves when its worker (or the lease expiry) ends it.
            let cancelled = job_engine::cancel(tx, namespace, job_id).await?;
            changes.extend(cancelled.changes);
        }
        saga = tx.saga_for_update(namespace, saga_id).await?.unwrap_or(saga);
    }
    Ok(Applied::with(saga, changes))
}

fn record_outcome(step: &mut StepRecord, job: &Job, outcome: Outcome, now: Timestamp) {
    step.state = match outcome {
        Outcome::Completed => StepState::Completed,
        Outcome::Dead => StepState::Failed,
        Outcome::Cancelled => StepState::Cancelled,
    };
    step.attempts = job.attempt;
    step.output = job.result.clone();
    step.errors = job.errors.iter().filter_map(|error| serde_json::to_value(error).ok()).collect();
    step.finished_at = Some(now);
}

/// The declared steps, one per index, in order.
fn action_specs(steps: &[StepRecord]) -> Vec<StepSpec> {
    steps.iter().filter(|s| s.phase == StepPhase::Action).map(|s| s.spec.clone()).collect()
}

/// Applies a transition: enqueues the next step's job (linked to its step) or finishes the saga.
async fn apply<T: SagaTx>(
    tx: &mut T,
    saga: &mut SagaRecord,
    steps: &mut [StepRecord],
    transition: Transition,
    now: Timestamp,
) -> Result<Vec<Change>, Error> {
    saga.updated_at = now;
    let mut changes = Vec::new();
    match transition {
        Transition::Finish { state, failed_step } => {
            saga.state = state;
            saga.failed_step = failed_step;
            saga.current_step = None;
            saga.finished_at = Some(now);
            if let Some(index) = failed_step {
                saga.error = Some(format!("the compensation of step {index} exhausted its retries"));
            }
            // Completed steps without a compensation were passed over.
            if matches!(state, SagaState::Compensated | SagaState::Cancelled | SagaState::CompensationFailed) {
                mark_skipped(tx, saga, steps).await?;
            }
        }
        Transition::Run { state, step, phase } => {
            saga.state = state;
            saga.current_step = Some(step);
            let outputs = completed_outputs(steps);
            let record = steps
                .iter_mut()
                .find(|s| s.index == step && s.phase == phase)
                .ok_or_else(|| StoreError::Internal(format!("saga {} has no step {step} {phase:?}", saga.saga_id)))?;
            let payload =
                spec::step_payload(saga.saga_id, &saga.name, &record.spec, phase, saga.input.as_ref(), outputs);
            let new = step_new_job(&record.spec, phase, payload)
                .ok_or_else(|| StoreError::Internal(format!("step {step} has no {phase:?} job")))?;
            let job_id = new.job_id;
            let enqueued =
                job_engine::enqueue(tx, &EnqueueParams { namespace: saga.namespace.clone(), jobs: vec![new] }).await?;
            changes.extend(enqueued.changes);
            tx.link_job(
                &saga.namespace,
                job_id,
                crate::saga::engine::StepLink { saga_id: saga.saga_id, index: step, phase },
            )
            .await?;
            record.state = StepState::Running;
            record.job_id = Some(job_id);
            record.started_at = Some(now);
            let record = record.clone();
            tx.update_step(&saga.namespace, saga.saga_id, &record).await?;
        }
    }
    tx.update_saga(saga).await?;
    Ok(changes)
}

async fn mark_skipped<T: SagaTx>(tx: &mut T, saga: &SagaRecord, steps: &mut [StepRecord]) -> Result<(), Error> {
    let completed: Vec<usize> = steps
        .iter()
        .filter(|s| s.phase == StepPhase::Action && s.state == StepState::Completed && s.spec.compensation.is_none())
        .map(|s| s.index)
        .collect();
    for step in steps.iter_mut().filter(|s| s.phase == StepPhase::Action && completed.contains(&s.index)) {
        step.state = StepState::Skipped;
        let step = step.clone();
        tx.update_step(&saga.namespace, saga.saga_id, &step).await?;
    }
    Ok(())
}

/// The outputs of the completed actions, by step name: what the next step's job sees.
fn completed_outputs(steps: &[StepRecord]) -> Map<String, Value> {
    steps
        .iter()
        .filter(|s| s.phase == StepPhase::Action && s.state == StepState::Completed)
        .map(|s| (s.spec.name.clone(), s.output.clone().unwrap_or(Value::Null)))
        .collect()
}

/// The job that performs a step phase, ready to store; the step was checked by [`spec::validate`].
fn step_new_job(step: &StepSpec, phase: StepPhase, payload: Value) -> Option<NewJob> {
    let job = spec::step_job(step, phase, payload)?;
    Some(NewJob {
        job_id: JobId::new(),
        queue: job.queue,
        job_type: job.job_type,
        payload: job.payload,
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: job.max_attempts.unwrap_or(1),
        backoff: job.backoff.unwrap_or_default(),
        timeout_ms: job.timeout_seconds.map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)),
        unique: None,
        concurrency_key: None,
        tags: vec![SAGA_JOB_TAG.into()],
        metadata: None,
        trace_context: None,
    })
}

/// A saga and its step timeline, for reads.
pub async fn get<T: SagaTx>(
    tx: &mut T,
    namespace: &Namespace,
    saga_id: SagaId,
) -> Result<(SagaRecord, Vec<StepRecord>), Error> {
    let saga = tx
        .saga_for_update(namespace, saga_id)
        .await?
        .ok_or_else(|| Error::SagaNotFound { saga_id: saga_id.to_string() })?;
    let steps = tx.saga_steps(namespace, saga_id).await?;
    Ok((saga, steps))
}
