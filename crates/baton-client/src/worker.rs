//! `Worker`: runs a queue's jobs with a handler per job type. It fetches in batches up to its free slots,
//! heartbeats each job while its handler runs, passes cancels on to the handler, acknowledges under the job's
//! lease, and on shutdown stops fetching and lets running jobs finish (handing back those that do not finish
//! in time). A finished job's completion rides on the next fetch when one is about to go out, so a busy worker
//! pays one round trip (and the server one commit) per batch rather than two.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton_api::job::{BatchItemResult, CompleteItem, FailRequest, FetchRequest, JobView};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::{BatonClient, ClientError};

/// How a handler says a job failed.
#[derive(Clone, Debug, Default)]
pub struct JobError {
    pub message: String,
    /// Retry after this long instead of the job's backoff.
    pub retry_in: Option<Duration>,
    /// Fail for good, whatever attempts are left.
    pub discard: bool,
}

impl JobError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), ..Self::default() }
    }

    pub fn discard(message: impl Into<String>) -> Self {
        Self { message: message.into(), discard: true, ..Self::default() }
    }
}

impl<E: std::fmt::Display> From<E> for JobError {
    fn from(error: E) -> Self {
        Self::new(error.to_string())
    }
}

/// One running job, as its handler sees it.
#[derive(Clone)]
pub struct JobContext {
    pub job: JobView,
    cancel: CancellationToken,
    client: BatonClient,
}

impl JobContext {
    /// Resolves when the job was cancelled, its lease was lost, or the worker is stopping past its grace.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The token behind [`JobContext::cancelled`], for work that takes one.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Reports progress (it also extends the lease).
    pub async fn progress(&self, progress: Value) -> Result<(), ClientError> {
        let token = self.job.lease_token.unwrap_or_default();
        self.client.heartbeat_job(&self.job.job_id, token, Some(progress)).await.map(|_| ())
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<Value, JobError>> + Send>>;
type Handler = Arc<dyn Fn(JobContext) -> HandlerFuture + Send + Sync>;

fn lock(acks: &Mutex<PendingAcks>) -> std::sync::MutexGuard<'_, PendingAcks> {
    // Pushes and takes only: a panic while holding it cannot leave it inconsistent.
    acks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn count_acks(results: &[BatchItemResult], counters: &Counters) {
    for result in results {
        match &result.error {
            None => {
                counters.completed.fetch_add(1, Ordering::Relaxed);
            }
            Some(error) => tracing::warn!(job_id = %result.job_id, code = %error.code, "a completion was refused"),
        }
    }
}

/// What a worker did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    pub completed: u64,
    pub failed: u64,
}

pub struct Worker {
    client: BatonClient,
    queues: Vec<String>,
    worker_id: String,
    concurrency: usize,
    lease: Duration,
    poll: Duration,
    shutdown_grace: Duration,
    handlers: HashMap<String, Handler>,
    fallback: Option<Handler>,
}

#[derive(Default)]
struct Counters {
    completed: AtomicU64,
    failed: AtomicU64,
}

/// Completions waiting for the next fetch to carry them.
#[derive(Default)]
struct PendingAcks {
    /// A fetch is in flight: a completion now would wait for the one after it, so it goes on its own.
    fetching: bool,
    items: Vec<CompleteItem>,
}

impl Worker {
    pub fn new(client: BatonClient, queues: &[&str]) -> Self {
        Self {
            client,
            queues: queues.iter().map(|queue| (*queue).to_owned()).collect(),
            worker_id: format!("worker-{}", std::process::id()),
            concurrency: 10,
            lease: Duration::from_secs(30),
            // Short, as in Sidekiq: shutdown waits for the poll in flight, and enqueues wake polls anyway.
            poll: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(30),
            handlers: HashMap::new(),
            fallback: None,
        }
    }

    pub fn worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.worker_id = worker_id.into();
        self
    }

    /// Jobs run at once; fetches take up to this many.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long a job is held without a heartbeat; heartbeats come every third of it.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// How long running jobs get to finish after shutdown before they are handed back.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Runs jobs of `job_type` with `handler`. Only registered types are fetched, unless [`Worker::handle_any`]
    /// is set.
    pub fn handle<F, Fut>(mut self, job_type: impl Into<String>, handler: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, JobError>> + Send + 'static,
    {
        self.handlers.insert(job_type.into(), Arc::new(move |context| Box::pin(handler(context))));
        self
    }

    /// Runs jobs of every type without a handler of their own.
    pub fn handle_any<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, JobError>> + Send + 'static,
    {
        self.fallback = Some(Arc::new(move |context| Box::pin(handler(context))));
        self
    }

    /// Fetches and runs jobs until `shutdown` fires, then drains. Errors reaching the server are retried.
    pub async fn run(self, shutdown: CancellationToken) -> WorkerReport {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.concurrency));
        let counters = Arc::new(Counters::default());
        let stop_jobs = CancellationToken::new();
        let acks = Arc::new(Mutex::new(PendingAcks::default()));
        let mut running = JoinSet::new();
        let queues: Vec<&str> = this.queues.iter().map(String::as_str).collect();
        let types = this.fallback.is_none().then(|| this.handlers.keys().cloned().collect::<Vec<_>>());
        while !shutdown.is_cancelled() {
            let first = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                () = shutdown.cancelled() => break,
            };
            let mut permits = vec![first];
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            let carried = {
                let mut pending = lock(&acks);
                pending.fetching = true;
                std::mem::take(&mut pending.items)
            };
            let request = FetchRequest {
                worker_id: this.worker_id.clone(),
                max_jobs: Some(permits.len() as u32),
                wait_ms: Some(this.poll.as_millis() as u64),
                lease_seconds: Some(this.lease.as_secs()),
                types: types.clone(),
                complete: (!carried.is_empty()).then(|| carried.clone()),
                ..FetchRequest::default()
            };
            // Not raced with shutdown: a fetch cut short could leave jobs leased to nobody until their lease ends.
            let fetched = this.client.fetch_and_complete(&queues, request).await;
            let fetched_at = Instant::now();
            lock(&acks).fetching = false;
            let fetched = match fetched {
                Ok(fetched) => fetched,
                Err(error) => {
                    tracing::warn!(%error, "fetch failed; retrying");
                    lock(&acks).items.extend(carried);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            count_acks(&fetched.completed, &counters);
            for (job, permit) in fetched.jobs.into_iter().zip(permits) {
                let (this, counters, stop_jobs, acks) =
                    (this.clone(), counters.clone(), stop_jobs.clone(), acks.clone());
                running.spawn(async move {
                    this.execute(job, fetched_at, &counters, stop_jobs, &acks).await;
                    drop(permit);
                });
            }
            while running.try_join_next().is_some() {}
        }
        let drained = tokio::time::timeout(this.shutdown_grace, async { while running.join_next().await.is_some() {} });
        if drained.await.is_err() {
            // Past the grace: handlers are told to stop, and their jobs are handed back below.
            stop_jobs.cancel();
            while running.join_next().await.is_some() {}
        }
        let left = std::mem::take(&mut lock(&acks).items);
        if !left.is_empty() {
            match this.client.complete_jobs(left).await {
                Ok(answer) => count_acks(&answer.results, &counters),
                Err(error) => tracing::warn!(%error, "could not complete the last jobs; their leases will lapse"),
            }
        }
        WorkerReport {
            completed: counters.completed.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
        }
    }

    /// Runs one job. `leased_at` is when its fetch was answered: the server's lease began a round trip earlier at
    /// most (the fetch may have waited long for a job before that).
    async fn execute(
        &self,
        job: JobView,
        leased_at: Instant,
        counters: &Counters,
        stop_jobs: CancellationToken,
        acks: &Mutex<PendingAcks>,
    ) {
        let Some(token) = job.lease_token else { return };
        let handler = self.handlers.get(&job.job_type).or(self.fallback.as_ref()).cloned();
        let Some(handler) = handler else {
            let error = JobError::new(format!("worker {} has no handler for type '{}'", self.worker_id, job.job_type));
            self.fail(&job, token, error, counters).await;
            return;
        };
        let cancel = stop_jobs.child_token();
        let lease_lost = CancellationToken::new();
        let context = JobContext { job: job.clone(), cancel: cancel.clone(), client: self.client.clone() };
        let heartbeats = self.heartbeat(&job.job_id, token, leased_at, cancel.clone(), lease_lost.clone());
        let outcome = tokio::select! {
            outcome = handler(context) => outcome,
            () = heartbeats => return,
        };
        if lease_lost.is_cancelled() {
            return;
        }
        // A handler stopped by the shutdown hands its job back to run again at once; one that finished its work
        // anyway completes it.
        let outcome = match outcome {
            Err(error) if stop_jobs.is_cancelled() => Err(JobError {
                message: format!("worker stopped: {}", error.message),
                retry_in: Some(Duration::ZERO),
                discard: false,
            }),
            other => other,
        };
        match outcome {
            Ok(result) => {
                let item = CompleteItem { job_id: job.job_id.clone(), lease_token: token, result: Some(result) };
                {
                    let mut pending = lock(acks);
                    if !pending.fetching {
                        // The slot this job frees starts the next fetch, which carries the completion.
                        pending.items.push(item);
                        return;
                    }
                }
                match self.client.complete_job(&job.job_id, token, item.result).await {
                    Ok(_) => {
                        counters.completed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => tracing::warn!(%error, job_id = %job.job_id, "could not complete the job"),
                }
            }
            Err(error) => self.fail(&job, token, error, counters).await,
        }
    }

    async fn fail(&self, job: &JobView, token: i64, error: JobError, counters: &Counters) {
        let request = FailRequest {
            lease_token: token,
            error: error.message,
            retry_in_ms: error.retry_in.map(|delay| delay.as_millis() as i64),
            discard: error.discard,
            namespace: None,
        };
        match self.client.fail_job(&job.job_id, request).await {
            Ok(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::warn!(%error, job_id = %job.job_id, "could not fail the job"),
        }
    }

    /// Heartbeats every third of the lease until the lease is lost (then it returns, having cancelled the
    /// handler); a cancel requested by an operator cancels the handler and keeps heartbeating.
    ///
    /// The lease counts as lost when the server says so, and also once a whole lease has passed since
    /// `leased_at` or the last heartbeat that got through: the server may hand the job to another worker then.
    async fn heartbeat(
        &self,
        job_id: &str,
        token: i64,
        leased_at: Instant,
        cancel: CancellationToken,
        lease_lost: CancellationToken,
    ) {
        let interval = self.lease / 3;
        let mut renewed_at = leased_at;
        loop {
            let lapses_at = renewed_at + self.lease;
            tokio::time::sleep_until((Instant::now() + interval).min(lapses_at).into()).await;
            let sent = Instant::now();
            // Bounded by the lease's end too, so that a server that stops answering cannot hold the loop past it.
            let answer_by = (sent + interval).min(lapses_at);
            let beat = tokio::time::timeout_at(answer_by.into(), self.client.heartbeat_job(job_id, token, None)).await;
            match beat {
                Ok(Ok(beat)) => {
                    renewed_at = sent;
                    if beat.cancel_requested {
                        cancel.cancel();
                    }
                }
                Ok(Err(error)) if matches!(error.code(), Some("STALE_TOKEN" | "JOB_NOT_FOUND")) => {
                    lease_lost.cancel();
                    cancel.cancel();
                    return;
                }
                Ok(Err(error)) => tracing::warn!(%error, job_id, "heartbeat failed"),
                Err(_) => tracing::warn!(job_id, "heartbeat got no answer in time"),
            }
            if Instant::now() >= renewed_at + self.lease {
                tracing::warn!(job_id, "no heartbeat got through for a whole lease; stopping the job's handler");
                lease_lost.cancel();
                cancel.cancel();
                return;
            }
        }
    }
}
