//! `baton worker`: runs a queue's jobs through the public API like any other worker, on the Rust SDK's
//! [`Worker`], with the built-in shell executor (`--exec`). SIGINT or SIGTERM stops fetching and lets running
//! jobs finish.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use baton_client::{JobContext, JobError, Worker};
use baton_executor::{ExecutorConfig, Outcome};
use clap::Args;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::ClientArgs;
use crate::lock_cmd::client;

#[derive(Args)]
pub struct WorkerArgs {
    /// The queues to take jobs from, in order of preference.
    #[arg(long = "queue", required = true)]
    queues: Vec<String>,
    /// Jobs run at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Run this shell command for every job: the payload arrives on stdin and in BATON_JOB_PAYLOAD.
    #[arg(long)]
    exec: String,
    /// How long a job is held without a heartbeat (heartbeats come every third of it).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    lease: Duration,
    /// The longest one attempt may run, when the job sets no timeout of its own.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    timeout: Duration,
    /// How long running jobs get to finish after SIGINT or SIGTERM.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    shutdown_grace: Duration,
    /// This worker's id in job records.
    #[arg(long)]
    worker_id: Option<String>,
}

pub async fn run(args: &ClientArgs, options: WorkerArgs) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    let executor = Arc::new(ExecutorConfig::shell_command(&options.exec).map_err(|e| anyhow::anyhow!("--exec: {e}"))?);
    let worker_id = options.worker_id.clone().unwrap_or_else(|| format!("baton-worker-{}", std::process::id()));
    let stop = CancellationToken::new();
    tokio::spawn(crate::serve::cancel_on_signal(stop.clone()));
    eprintln!("worker {worker_id} on {} ({} at once)", options.queues.join(", "), options.concurrency);
    let queues: Vec<&str> = options.queues.iter().map(String::as_str).collect();
    let default_timeout = options.timeout;
    let report = Worker::new(client, &queues)
        .worker_id(worker_id)
        .concurrency(options.concurrency)
        .lease(options.lease)
        .shutdown_grace(options.shutdown_grace)
        .handle_any(move |context| run_executor(executor.clone(), context, default_timeout))
        .run(stop)
        .await;
    eprintln!("stopped: {} completed, {} failed", report.completed, report.failed);
    Ok(ExitCode::SUCCESS)
}

/// One attempt through an executor: a retryable failure retries with the job's backoff, any other is final.
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
