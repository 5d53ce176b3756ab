//! `baton worker`: runs a queue's jobs through the public API like any other worker, on the Rust SDK's
//! [`Worker`]: every job with one shell command (`--exec`), or each registered job type with its built-in
//! executor. SIGINT or SIGTERM stops fetching and lets running jobs finish.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use baton_client::Worker;
use baton_executor::ExecutorConfig;
use baton_server::executors::{run_executor, with_job_types};
use clap::Args;
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
    /// Run this shell command for every job: the payload arrives on stdin and in BATON_JOB_PAYLOAD. Without
    /// it, the worker runs the registered job types (`PUT /api/v1/job-types/{type}`) with their executors.
    #[arg(long)]
    exec: Option<String>,
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
    let worker_id = options.worker_id.clone().unwrap_or_else(|| format!("baton-worker-{}", std::process::id()));
    let stop = CancellationToken::new();
    tokio::spawn(crate::serve::cancel_on_signal(stop.clone()));
    eprintln!("worker {worker_id} on {} ({} at once)", options.queues.join(", "), options.concurrency);
    let queues: Vec<&str> = options.queues.iter().map(String::as_str).collect();
    let default_timeout = options.timeout;
    let worker = Worker::new(client.clone(), &queues)
        .worker_id(worker_id)
        .concurrency(options.concurrency)
        .lease(options.lease)
        .shutdown_grace(options.shutdown_grace);
    let worker = match &options.exec {
        Some(command) => {
            let executor =
                Arc::new(ExecutorConfig::shell_command(command).map_err(|e| anyhow::anyhow!("--exec: {e}"))?);
            worker.handle_any(move |context| run_executor(executor.clone(), context, default_timeout))
        }
        None => {
            let job_types = client.job_types().await?.job_types;
            if job_types.is_empty() {
                anyhow::bail!("no job types are registered: register one, or give --exec");
            }
            with_job_types(worker, &job_types, default_timeout)
        }
    };
    let report = worker.run(stop).await;
    eprintln!("stopped: {} completed, {} failed", report.completed, report.failed);
    Ok(ExitCode::SUCCESS)
}
