//! The executor: takes runs of its registered workflows from a queue, replays each from its checkpoints,
//! keeps the run's lease alive, and reports how the run ended. A run that dies with its process is taken
//! again by any executor once its lease lapses.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, Run};
use crate::context::{Pacing, WorkflowContext, now};
use crate::error::WorkflowError;
use crate::registry::Registry;

#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// The queue the runs wait on: the workflows' `queue` option (`workflows` by default).
    pub queue: String,
    /// Names this executor to the job engine (visible on the run's job).
    pub worker_id: String,
    /// The most runs in progress at once.
    pub concurrency: usize,
    /// How long a run stays this executor's without a heartbeat; a crashed executor's runs are taken again
    /// after it. Heartbeats go every third of it.
    pub lease: Duration,
    /// How often `recv`, `get_event` and a child's result are asked again while they wait.
    pub poll: Duration,
    /// A `sleep` longer than this hands the run back to the queue until it wakes.
    pub hold_sleeps_up_to: Duration,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        Self {
            queue: baton_core::workflow::DEFAULT_QUEUE.into(),
            worker_id: format!("workflow-executor-{}", std::process::id()),
            concurrency: 32,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(100),
            hold_sleeps_up_to: Duration::from_secs(30),
        }
    }
}

/// The longest one fetch long-polls; shutdown interrupts it anyway.
const FETCH_WAIT: Duration = Duration::from_secs(10);
/// The pause after a failed fetch before the next.
const FETCH_RETRY: Duration = Duration::from_secs(1);

pub struct Executor {
    backend: Arc<dyn Backend>,
    registry: Registry,
    options: ExecutorOptions,
}

/// A running executor: [`Self::stop`] hands its runs in progress back to the queue and waits for it.
pub struct RunningExecutor {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningExecutor {
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the workflow executor panicked");
        }
    }
}

/// Why a run stopped before its workflow returned.
enum Interrupt {
    /// The workflow was cancelled (or timed out) while it ran.
    Cancelled,
    /// Another executor holds the run now, or the workflow finished.
    Lost,
    /// This executor is shutting down.
    Stopped,
}

impl Executor {
    pub fn new(backend: Arc<dyn Backend>, registry: Registry, options: ExecutorOptions) -> Self {
        Self { backend, registry, options }
    }

    /// Runs in the background until stopped.
    pub fn spawn(self) -> RunningExecutor {
        let stop = CancellationToken::new();
        let task = tokio::spawn(self.run(stop.clone()));
        RunningExecutor { stop, task }
    }

    /// Takes and runs workflows until `stop` fires, then hands the runs in progress back to the queue.
    pub async fn run(self, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let names = self.registry.names();
        let mut running = tokio::task::JoinSet::new();
        while !stop.is_cancelled() {
            // At least one slot, then as many as are free: one fetch takes that many runs.
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("the executor never closes its semaphore"),
                () = stop.cancelled() => break,
            };
            let mut permits = vec![first];
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            let max = u32::try_from(permits.len()).unwrap_or(u32::MAX);
            let options = &self.options;
            let fetched = tokio::select! {
                fetched = self.backend.fetch_runs(&options.queue, &names, &options.worker_id, max, FETCH_WAIT, options.lease) => fetched,
                () = stop.cancelled() => break,
            };
            let runs = match fetched {
                Ok(runs) => runs,
                Err(error) => {
                    tracing::warn!(%error, queue = options.queue, "fetching workflow runs failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(FETCH_RETRY) => {}
                        () = stop.cancelled() => break,
                    }
                    continue;
                }
            };
            for run in runs {
                let permit = permits.pop();
                let execution = Execution {
                    backend: self.backend.clone(),
                    registry: self.registry.clone(),
                    options: self.options.clone(),
                    run,
                };
                let stop = stop.clone();
                running.spawn(execution.execute(stop, permit));
            }
            // Reap finished tasks so the set does not grow with every run.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
    }
}

/// One run of one workflow.
struct Execution {
    backend: Arc<dyn Backend>,
    registry: Registry,
    options: ExecutorOptions,
    run: Run,
}

impl Execution {
    /// Runs the workflow in its slot (`permit`), then reports how the run ended.
    async fn execute(self, stop: CancellationToken, permit: Option<OwnedSemaphorePermit>) {
        let outcome = tokio::select! {
            outcome = self.replay() => outcome.map_err(Ok),
            interrupt = self.keep_alive() => Err(Err(interrupt)),
            () = stop.cancelled() => Err(Err(Interrupt::Stopped)),
        };
        // The slot frees once the workflow's code is done, before the report's commit: the executor's next
        // poll is then idle again before a caller waiting on this run hears it ended, and the caller's next
        // start can hand its run straight to that poll.
        drop(permit);
        self.settle(outcome).await;
    }

    /// Loads the checkpoints and runs the workflow's code over them.
    async fn replay(&self) -> Result<Value, WorkflowError> {
        let (workflow, steps) = self.backend.load_run(&self.run).await?;
        if workflow.state.is_finished() {
            return Err(WorkflowError::Finished);
        }
        let pacing = Pacing { poll: self.options.poll, hold_sleeps_up_to: self.options.hold_sleeps_up_to };
        let context = WorkflowContext::new(self.backend.clone(), self.run.clone(), workflow.options, steps, pacing);
        match self.registry.run(&self.run.name, context, workflow.input) {
            Some(run) => run.await,
            None => Err(WorkflowError::Baton {
                code: "UNKNOWN_WORKFLOW".into(),
                message: format!("no workflow '{}' is registered with this executor", self.run.name),
            }),
        }
    }

    /// Heartbeats until the run is cancelled or lost; never returns otherwise.
    async fn keep_alive(&self) -> Interrupt {
        let every = self.options.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match self.backend.heartbeat(&self.run).await {
                Ok(false) => {}
                Ok(true) => return Interrupt::Cancelled,
                Err(WorkflowError::LeaseLost | WorkflowError::Finished | WorkflowError::NotFound(_)) => {
                    return Interrupt::Lost;
                }
                // A missed beat is not yet a lost lease: the next one may get through.
                Err(error) => tracing::warn!(%error, workflow_id = self.run.workflow_id, "heartbeat failed"),
            }
        }
    }

    /// Reports how the run ended to the engine, which ends the workflow with it (or queues the run again).
    async fn settle(&self, outcome: Result<Value, Result<WorkflowError, Interrupt>>) {
        let workflow_id = self.run.workflow_id.as_str();
        let reported = match outcome {
            Ok(output) => self.backend.complete(&self.run, output).await,
            Err(Err(Interrupt::Lost) | Ok(WorkflowError::LeaseLost | WorkflowError::Finished)) => Ok(()),
            Err(Err(Interrupt::Cancelled) | Ok(WorkflowError::Cancelled)) => {
                self.backend.fail(&self.run, "cancelled", None, true).await
            }
            Err(Err(Interrupt::Stopped)) => {
                self.backend.fail(&self.run, "the executor stopped", Some(Duration::ZERO), false).await
            }
            Err(Ok(WorkflowError::Suspended(wake_at))) => {
                let left = u64::try_from(wake_at.as_millis() - now().as_millis()).unwrap_or(0);
                let note = format!("sleeping until {}", wake_at.to_rfc3339());
                self.backend.fail(&self.run, &note, Some(Duration::from_millis(left)), false).await
            }
            Err(Ok(WorkflowError::Unavailable(error))) => {
                tracing::warn!(workflow_id, %error, "the run stopped on an unavailable store; it runs again");
                self.backend.fail(&self.run, &error, Some(Duration::from_secs(1)), false).await
            }
            Err(Ok(error @ WorkflowError::NonDeterministic(_))) => {
                tracing::error!(workflow_id, %error, "non-deterministic replay: the workflow fails");
                self.backend.fail(&self.run, &error.to_string(), None, true).await
            }
            Err(Ok(error)) => self.backend.fail(&self.run, &error.to_string(), None, true).await,
        };
        match reported {
            Ok(()) | Err(WorkflowError::LeaseLost | WorkflowError::Finished) => {}
            Err(error) => tracing::warn!(workflow_id, %error, "reporting the run's end failed; its lease will lapse"),
        }
    }
}
