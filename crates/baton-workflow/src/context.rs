//! What a workflow's code calls: each call is a checkpoint at the next index. On a replay a call whose index
//! is recorded returns what was recorded, without running again; the first call past the recording runs for
//! real and records. So the calls must come in the same order on every run (see the crate docs).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use baton_core::clock::{Clock, SystemClock, Timestamp};
use baton_core::workflow::{StepKind, WorkflowOptions, WorkflowState, WorkflowStep};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::backend::{Backend, Effect, NewWorkflow, Run, StepWrite};
use crate::error::WorkflowError;

/// The most one wait for a child's run to end lasts before the child is read again (a resumed child has a
/// new run).
const CHILD_WAIT: Duration = Duration::from_secs(5);

/// How a `step_with` retries its closure. Between attempts the run keeps its lease.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOptions {
    pub name: String,
    /// Attempts after the first; 0 by default.
    pub retries: u32,
    /// The wait before the first retry; each later one multiplies it by `backoff_factor`, up to `max_backoff`.
    pub backoff: Duration,
    pub backoff_factor: f64,
    pub max_backoff: Duration,
}

impl StepOptions {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            retries: 0,
            backoff: Duration::from_millis(100),
            backoff_factor: 2.0,
            max_backoff: Duration::from_secs(60),
        }
    }

    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    pub fn backoff(mut self, first: Duration, factor: f64) -> Self {
        self.backoff = first;
        self.backoff_factor = factor;
        self
    }

    fn delay_before(&self, retry: u32) -> Duration {
        let factor = self.backoff_factor.max(1.0).powi(i32::try_from(retry).unwrap_or(i32::MAX));
        self.backoff.mul_f64(factor.min(1e6)).min(self.max_backoff)
    }
}

/// How a child workflow starts; the child's id is derived from its parent's by default, so a replay names
/// the same child.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChildOptions {
    pub workflow_id: Option<String>,
    /// The parent's queue by default.
    pub queue: Option<String>,
    pub priority: Option<i32>,
    pub timeout: Option<Duration>,
}

/// Tuning of the waits inside a run.
#[derive(Clone, Debug)]
pub(crate) struct Pacing {
    /// How often `recv`, `get_event` and a child's result are asked again while they wait.
    pub poll: Duration,
    /// A `sleep` longer than this hands the run back to the queue until it wakes, freeing the executor.
    pub hold_sleeps_up_to: Duration,
}

/// A running workflow's handle on its own progress. Every method takes `&mut self`, so the steps of one
/// workflow run one at a time, in the order the code calls them.
pub struct WorkflowContext {
    backend: Arc<dyn Backend>,
    run: Run,
    options: WorkflowOptions,
    recorded: BTreeMap<usize, WorkflowStep>,
    next_index: usize,
    pacing: Pacing,
}

impl fmt::Debug for WorkflowContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowContext")
            .field("workflow_id", &self.run.workflow_id)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

fn to_value(context: &str, value: &impl Serialize) -> Result<Value, WorkflowError> {
    serde_json::to_value(value).map_err(|error| WorkflowError::serde(context, error))
}

fn from_value<T: DeserializeOwned>(context: &str, value: Option<Value>) -> Result<T, WorkflowError> {
    serde_json::from_value(value.unwrap_or(Value::Null)).map_err(|error| WorkflowError::serde(context, error))
}

impl WorkflowContext {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        run: Run,
        options: WorkflowOptions,
        steps: Vec<WorkflowStep>,
        pacing: Pacing,
    ) -> Self {
        let recorded = steps.into_iter().map(|step| (step.index, step)).collect();
        Self { backend, run, options, recorded, next_index: 0, pacing }
    }

    pub fn workflow_id(&self) -> &str {
        &self.run.workflow_id
    }

    /// Claims the next index, handing back what was recorded there if this is a replay, and refusing a
    /// replay that asks for something else than what the recording holds.
    fn next(&mut self, name: &str, kind: StepKind) -> Result<(usize, Option<WorkflowStep>), WorkflowError> {
        let index = self.next_index;
        self.next_index += 1;
        let Some(step) = self.recorded.remove(&index) else {
            return Ok((index, None));
        };
        if step.name != name || step.kind != kind {
            return Err(WorkflowError::NonDeterministic(format!(
                "workflow '{}' step {index}: recorded {} '{}', the code now asks for {} '{name}'",
                self.run.workflow_id,
                step.kind.as_str(),
                step.name,
                kind.as_str()
            )));
        }
        Ok((index, Some(step)))
    }

    async fn record(
        &self,
        index: usize,
        name: &str,
        kind: StepKind,
        output: Option<Value>,
        started_at: Timestamp,
        effect: Option<Effect>,
    ) -> Result<WorkflowStep, WorkflowError> {
        let write =
            StepWrite { index, name: name.to_owned(), kind, output, error: None, attempts: 1, started_at, effect };
        self.backend.record_step(&self.run, write).await
    }

    /// Runs `body` once and records its output; a replay returns the recorded output without running it.
    pub async fn step<T, E, F, Fut>(&mut self, name: &str, body: F) -> Result<T, WorkflowError>
    where
        T: Serialize + DeserializeOwned,
        E: fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.step_with(StepOptions::new(name), body).await
    }

    /// [`Self::step`] with retries: a failed attempt waits its backoff and runs again; when the retries run
    /// out the failure is recorded, and the step (and every replay of it) returns
    /// [`WorkflowError::StepFailed`].
    pub async fn step_with<T, E, F, Fut>(&mut self, options: StepOptions, mut body: F) -> Result<T, WorkflowError>
    where
        T: Serialize + DeserializeOwned,
        E: fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let name = options.name.as_str();
        let (index, recorded) = self.next(name, StepKind::Step)?;
        let step = match recorded {
            Some(step) => step,
            None => {
                let started_at = now();
                let mut attempts = 0;
                let outcome = loop {
                    attempts += 1;
                    match body().await {
                        Ok(output) => break Ok(to_value(name, &output)?),
                        Err(error) if attempts > options.retries => break Err(error.to_string()),
                        Err(error) => {
                            tracing::debug!(workflow_id = %self.run.workflow_id, step = name, %error, attempts, "step failed; retrying");
                            tokio::time::sleep(options.delay_before(attempts - 1)).await;
                        }
                    }
                };
                let (output, error) = match outcome {
                    Ok(output) => (Some(output), None),
                    Err(error) => (None, Some(error)),
                };
                let write = StepWrite {
                    index,
                    name: name.to_owned(),
                    kind: StepKind::Step,
                    output,
                    error,
                    attempts,
                    started_at,
                    effect: None,
                };
                self.backend.record_step(&self.run, write).await?
            }
        };
        match step.error {
            Some(message) => Err(WorkflowError::StepFailed { name: name.to_owned(), message }),
            None => from_value(name, step.output),
        }
    }

    /// A durable timer: the wake-up time is recorded, so a restart sleeps only what is left of it.
    pub async fn sleep(&mut self, duration: Duration) -> Result<(), WorkflowError> {
        let (index, recorded) = self.next("sleep", StepKind::Sleep)?;
        let step = match recorded {
            Some(step) => step,
            None => {
                let started_at = now();
                let wake_at = started_at.plus(duration).as_millis();
                self.record(index, "sleep", StepKind::Sleep, Some(json!(wake_at)), started_at, None).await?
            }
        };
        let wake_at = Timestamp(from_value::<i64>("sleep", step.output)?);
        let left = Duration::from_millis(u64::try_from(wake_at.as_millis() - now().as_millis()).unwrap_or(0));
        if left > self.pacing.hold_sleeps_up_to {
            return Err(WorkflowError::Suspended(wake_at));
        }
        tokio::time::sleep(left).await;
        Ok(())
    }

    /// Sends `message` to `workflow_id`'s `recv(topic)`, exactly once however often this run replays.
    pub async fn send(
        &mut self,
        workflow_id: &str,
        topic: &str,
        message: &impl Serialize,
    ) -> Result<(), WorkflowError> {
        let name = format!("send:{topic}");
        let (index, recorded) = self.next(&name, StepKind::Send)?;
        if recorded.is_none() {
            let effect = Effect::Send {
                workflow_id: workflow_id.to_owned(),
                topic: topic.to_owned(),
                message: to_value("message", message)?,
            };
            self.record(index, &name, StepKind::Send, None, now(), Some(effect)).await?;
        }
        Ok(())
    }

    /// The next message sent to this workflow on `topic`, each received once; `None` when none came within
    /// `timeout`.
    pub async fn recv<T: DeserializeOwned>(
        &mut self,
        topic: &str,
        timeout: Duration,
    ) -> Result<Option<T>, WorkflowError> {
        let name = format!("recv:{topic}");
        let (index, recorded) = self.next(&name, StepKind::Recv)?;
        let step = match recorded {
            Some(step) => step,
            None => {
                let deadline = tokio::time::Instant::now() + timeout;
                loop {
                    if let Some(step) = self.backend.recv(&self.run, index, &name, topic).await? {
                        break step;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        // A message taken meanwhile wins: the engine answers the step it recorded first.
                        break self.record(index, &name, StepKind::Recv, None, now(), None).await?;
                    }
                    tokio::time::sleep_until((tokio::time::Instant::now() + self.pacing.poll).min(deadline)).await;
                }
            }
        };
        match step.output {
            None | Some(Value::Null) => Ok(None),
            output => from_value(&name, output).map(Some),
        }
    }

    /// Sets this workflow's event `key`, for `get_event` callers and the REST API.
    pub async fn set_event(&mut self, key: &str, value: &impl Serialize) -> Result<(), WorkflowError> {
        let name = format!("set_event:{key}");
        let (index, recorded) = self.next(&name, StepKind::SetEvent)?;
        if recorded.is_none() {
            let effect = Effect::SetEvent { key: key.to_owned(), value: to_value("event value", value)? };
            self.record(index, &name, StepKind::SetEvent, None, now(), Some(effect)).await?;
        }
        Ok(())
    }

    /// Another workflow's event `key`, waiting up to `timeout` for it to be set; the value read is recorded.
    pub async fn get_event<T: DeserializeOwned>(
        &mut self,
        workflow_id: &str,
        key: &str,
        timeout: Duration,
    ) -> Result<Option<T>, WorkflowError> {
        let name = format!("get_event:{workflow_id}:{key}");
        let (index, recorded) = self.next(&name, StepKind::GetEvent)?;
        let step = match recorded {
            Some(step) => step,
            None => {
                let started_at = now();
                let read = || async {
                    match self.backend.event(workflow_id, key).await {
                        // A workflow not started yet has not set it yet.
                        Err(WorkflowError::NotFound(_)) => Ok(None),
                        other => other,
                    }
                };
                let value = poll(timeout, self.pacing.poll, read).await?;
                self.record(index, &name, StepKind::GetEvent, value, started_at, None).await?
            }
        };
        match step.output {
            None | Some(Value::Null) => Ok(None),
            output => from_value(&name, output).map(Some),
        }
    }

    /// Starts a child workflow (once), and answers its id.
    pub async fn start_child(
        &mut self,
        name: &str,
        input: &impl Serialize,
        options: ChildOptions,
    ) -> Result<String, WorkflowError> {
        let step_name = format!("start_child:{name}");
        let (index, recorded) = self.next(&step_name, StepKind::StartChild)?;
        let step = match recorded {
            Some(step) => step,
            None => {
                let child_id = options.workflow_id.unwrap_or_else(|| format!("{}:child:{index}", self.run.workflow_id));
                let child = NewWorkflow {
                    workflow_id: child_id.clone(),
                    name: name.to_owned(),
                    input: Some(to_value("child input", input)?),
                    options: WorkflowOptions {
                        queue: options.queue.unwrap_or_else(|| self.options.queue.clone()),
                        priority: options.priority.unwrap_or(self.options.priority),
                        timeout_ms: options
                            .timeout
                            .map(|timeout| i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)),
                    },
                    parent_id: Some(self.run.workflow_id.clone()),
                };
                let effect = Some(Effect::StartChild(child));
                self.record(index, &step_name, StepKind::StartChild, Some(json!(child_id)), now(), effect).await?
            }
        };
        from_value(&step_name, step.output)
    }

    /// Waits for a child (or any workflow) to finish, and records how it ended: its output, or
    /// [`WorkflowError::Failed`] with its error.
    pub async fn child_result<T: DeserializeOwned>(&mut self, child_id: &str) -> Result<T, WorkflowError> {
        let name = format!("child_result:{child_id}");
        let (index, recorded) = self.next(&name, StepKind::ChildResult)?;
        let step = match recorded {
            Some(step) => step,
            None => {
                let started_at = now();
                let child = loop {
                    let (child, _) = self.backend.get(child_id).await?;
                    if child.state.is_finished() {
                        break child;
                    }
                    self.backend.wait_run(&child, CHILD_WAIT).await?;
                };
                let outcome = json!({"state": child.state.as_str(), "output": child.output, "error": child.error});
                self.record(index, &name, StepKind::ChildResult, Some(outcome), started_at, None).await?
            }
        };
        let outcome = step.output.unwrap_or(Value::Null);
        match outcome.get("state").and_then(Value::as_str) {
            Some(state) if state == WorkflowState::Completed.as_str() => {
                from_value(&name, outcome.get("output").cloned())
            }
            state => {
                let error = outcome.get("error").and_then(Value::as_str).unwrap_or("no error recorded");
                Err(WorkflowError::Failed(format!(
                    "child workflow '{child_id}' ended {}: {error}",
                    state.unwrap_or("unknown")
                )))
            }
        }
    }

    /// Starts a child workflow and waits for its result.
    pub async fn child<T: DeserializeOwned>(&mut self, name: &str, input: &impl Serialize) -> Result<T, WorkflowError> {
        let child_id = self.start_child(name, input, ChildOptions::default()).await?;
        self.child_result(&child_id).await
    }

    async fn value(&mut self, name: &str, draw: impl FnOnce() -> Value) -> Result<Value, WorkflowError> {
        let (index, recorded) = self.next(name, StepKind::Value)?;
        let step = match recorded {
            Some(step) => step,
            None => self.record(index, name, StepKind::Value, Some(draw()), now(), None).await?,
        };
        Ok(step.output.unwrap_or(Value::Null))
    }

    /// The time, as first read by this workflow at this point: a replay sees the same instant.
    pub async fn now(&mut self) -> Result<Timestamp, WorkflowError> {
        let millis = self.value("now", || json!(now().as_millis())).await?;
        Ok(Timestamp(from_value("now", Some(millis))?))
    }

    /// A random UUID, the same on every replay.
    pub async fn uuid(&mut self) -> Result<Uuid, WorkflowError> {
        let uuid = self.value("uuid", || json!(Uuid::new_v4())).await?;
        from_value("uuid", Some(uuid))
    }

    /// A random number in [0, 1), the same on every replay.
    pub async fn random(&mut self) -> Result<f64, WorkflowError> {
        let draw = || {
            let bits = u64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into().unwrap_or_default());
            // The top 53 bits make every representable double in [0, 1) equally likely.
            json!((bits >> 11) as f64 / (1u64 << 53) as f64)
        };
        let value = self.value("random", draw).await?;
        from_value("random", Some(value))
    }
}

/// Asks `read` until it answers something or `timeout` passes.
async fn poll<F, Fut>(timeout: Duration, every: Duration, mut read: F) -> Result<Option<Value>, WorkflowError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<Value>, WorkflowError>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = read().await? {
            return Ok(Some(value));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep_until((now + every).min(deadline)).await;
    }
}
