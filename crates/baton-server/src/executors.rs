//! The built-in executors, as the server offers them: the check the job type registry runs on a config, the
//! handler that runs one job through an executor, and the in-server pool (`baton serve --executors`), which is
//! an SDK worker per queue talking to this node's own HTTP API like any other worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use baton_client::api::job::JobTypeView;
use baton_client::{BatonClient, JobContext, JobError, Worker};
use baton_core::job::JobService;
use baton_core::job::job_type::ExecutorCheck;
use baton_executor::{ExecutorConfig, Outcome};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How often the pool looks for job types registered or changed since.
const REGISTRY_POLL: Duration = Duration::from_secs(5);
/// Used when neither the job nor its type sets a timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

pub struct BuiltInExecutors;

impl ExecutorCheck for BuiltInExecutors {
    fn check(&self, executor: &str, config: &Value) -> Result<(), String> {
        ExecutorConfig::parse(executor, config).map(|_| ()).map_err(|error| error.to_string())
    }
}

/// Runs one attempt of `context`'s job through `executor`. A retryable failure retries with the job's backoff;
/// any other is final.
pub async fn run_executor(
    executor: Arc<ExecutorConfig>,
    context: JobContext,
    default_timeout: Duration,
) -> Result<Value, JobError> {
    let job = &context.job;
    let attempt = baton_executor::JobContext {
        job_id: job.job_id.clone(),
        namespace: job.namespace.clone(),
        queue: job.queue.clone(),
        job_type: job.job_type.clone(),
        attempt: job.attempt,
        payload: job.payload.clone(),
        timeout: job.timeout_seconds.map_or(default_timeout, |seconds| Duration::from_secs(seconds.max(1) as u64)),
    };
    match baton_executor::execute(&executor, &attempt, context.cancellation()).await {
        Outcome::Completed { result } => Ok(result),
        Outcome::Failed { error, retryable, .. } => {
            Err(JobError { message: error, discard: !retryable, ..JobError::default() })
        }
    }
}

/// Adds a handler for every registered type to `worker`; types whose config no longer parses are skipped.
pub fn with_job_types(mut worker: Worker, job_types: &[JobTypeView], default_timeout: Duration) -> Worker {
    for job_type in job_types {
        let executor = match ExecutorConfig::parse(&job_type.executor, &job_type.config) {
            Ok(executor) => Arc::new(executor),
            Err(error) => {
                tracing::warn!(job_type = %job_type.job_type, %error, "skipping a job type whose config is invalid");
                continue;
            }
        };
        let timeout = job_type.timeout_seconds.map_or(default_timeout, |s| Duration::from_secs(s.max(1) as u64));
        worker =
            worker.handle(job_type.job_type.clone(), move |context| run_executor(executor.clone(), context, timeout));
    }
    worker
}

/// The workers serving one version of the registry.
struct Pool {
    job_types: Vec<JobTypeView>,
    stop: CancellationToken,
    workers: JoinSet<()>,
}

impl Pool {
    /// Stops fetching and waits until the running jobs are finished or handed back.
    async fn drain(mut self) {
        self.stop.cancel();
        while self.workers.join_next().await.is_some() {}
    }
}

/// Runs the registered job types of every namespace until shutdown, restarting its workers when the registry
/// changes.
pub(crate) async fn run_pool(jobs: JobService, base_url: String, concurrency: usize, shutdown: CancellationToken) {
    let mut current: Option<Pool> = None;
    loop {
        match jobs.job_types(None).await {
            Ok(found) => {
                let job_types: Vec<JobTypeView> = found.into_iter().map(baton_http::job_type_view).collect();
                if current.as_ref().is_none_or(|pool| pool.job_types != job_types) {
                    if let Some(pool) = current.take() {
                        pool.drain().await;
                    }
                    let stop = shutdown.child_token();
                    let workers = start_workers(&base_url, &job_types, concurrency, &stop);
                    current = Some(Pool { job_types, stop, workers });
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the job type registry; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(REGISTRY_POLL) => {}
            () = shutdown.cancelled() => break,
        }
    }
    if let Some(pool) = current {
        pool.drain().await;
    }
}

/// One SDK worker per (namespace, queue) among the registered types.
fn start_workers(
    base_url: &str,
    job_types: &[JobTypeView],
    concurrency: usize,
    stop: &CancellationToken,
) -> JoinSet<()> {
    let mut by_queue: BTreeMap<(String, String), Vec<JobTypeView>> = BTreeMap::new();
    for job_type in job_types {
        by_queue.entry((job_type.namespace.clone(), job_type.queue.clone())).or_default().push(job_type.clone());
    }
    let mut workers = JoinSet::new();
    for ((namespace, queue), types) in by_queue {
        let Ok(client) = BatonClient::new(base_url) else { continue };
        let worker = Worker::new(client.with_namespace(namespace), &[queue.as_str()])
            .worker_id("baton-serve-executors")
            .concurrency(concurrency);
        let worker = with_job_types(worker, &types, DEFAULT_TIMEOUT);
        let stop = stop.clone();
        workers.spawn(async move {
            worker.run(stop).await;
        });
    }
    workers
}
