//! `baton worker`: runs a queue's jobs through the public API like any other worker, with the built-in shell
//! executor (`--exec`). Each slot long-polls for one job, heartbeats while it runs, and acknowledges under its
//! lease; SIGINT or SIGTERM stops fetching and lets running jobs finish.

use std::process::ExitCode;
use std::time::Duration;

use baton_api::job::{FailRequest, FetchRequest, JobView};
use baton_client::BatonClient;
use baton_executor::{ExecutorConfig, JobContext, Outcome};
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
    concurrency: u32,
    /// Run this shell command for every job: the payload arrives on stdin and in BATON_JOB_PAYLOAD.
    #[arg(long)]
    exec: String,
    /// How long a job is held without a heartbeat (heartbeats come every third of it).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    lease: Duration,
    /// The longest one attempt may run, when the job sets no timeout of its own.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    timeout: Duration,
    /// This worker's id in job records; host and process id by default.
    #[arg(long)]
    worker_id: Option<String>,
}

pub async fn run(args: &ClientArgs, worker: WorkerArgs) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    let executor = ExecutorConfig::shell_command(&worker.exec).map_err(|e| anyhow::anyhow!("--exec: {e}"))?;
    let worker_id = worker.worker_id.clone().unwrap_or_else(|| format!("baton-worker-{}", std::process::id()));
    let stop = CancellationToken::new();
    tokio::spawn(crate::serve::cancel_on_signal(stop.clone()));
    eprintln!("worker {worker_id} on {} ({} at once)", worker.queues.join(", "), worker.concurrency);
    let slots = (0..worker.concurrency.max(1)).map(|_| {
        let slot = Slot { client: client.clone(), executor: executor.clone(), worker_id: worker_id.clone() };
        let (queues, lease, timeout, stop) = (worker.queues.clone(), worker.lease, worker.timeout, stop.clone());
        tokio::spawn(async move { slot.run(&queues, lease, timeout, stop).await })
    });
    for slot in slots.collect::<Vec<_>>() {
        slot.await?;
    }
    Ok(ExitCode::SUCCESS)
}

struct Slot {
    client: BatonClient,
    executor: ExecutorConfig,
    worker_id: String,
}

impl Slot {
    async fn run(&self, queues: &[String], lease: Duration, timeout: Duration, stop: CancellationToken) {
        let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
        while !stop.is_cancelled() {
            let request = FetchRequest {
                worker_id: self.worker_id.clone(),
                max_jobs: Some(1),
                wait_ms: Some(10_000),
                lease_seconds: Some(lease.as_secs().max(1)),
                ..FetchRequest::default()
            };
            let fetched = tokio::select! {
                fetched = self.client.fetch_jobs(&queues, request) => fetched,
                () = stop.cancelled() => return,
            };
            match fetched {
                Ok(jobs) => {
                    for job in jobs {
                        self.execute(job, lease, timeout).await;
                    }
                }
                Err(error) => {
                    eprintln!("fetch failed: {error}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Runs one job to its end while heartbeating, then reports the outcome under the job's lease.
    async fn execute(&self, job: JobView, lease: Duration, default_timeout: Duration) {
        let Some(token) = job.lease_token else { return };
        let context = JobContext {
            job_id: job.job_id.clone(),
            namespace: job.namespace.clone(),
            queue: job.queue.clone(),
            job_type: job.job_type.clone(),
            attempt: job.attempt,
            payload: job.payload.clone(),
            timeout: job.timeout_seconds.map_or(default_timeout, |s| Duration::from_secs(s.max(1) as u64)),
        };
        let cancel = CancellationToken::new();
        let heartbeats = self.heartbeat(&job.job_id, token, lease / 3, cancel.clone());
        let outcome = tokio::select! {
            outcome = baton_executor::execute(&self.executor, &context, cancel.clone()) => outcome,
            () = heartbeats => baton_executor::Outcome::Failed {
                error: "lease lost: the job was handed to another worker".into(),
                retryable: true,
                result: serde_json::Value::Null,
            },
        };
        let reported = match outcome {
            Outcome::Completed { result } => {
                self.client.complete_job(&job.job_id, token, Some(result)).await.map(|_| ())
            }
            Outcome::Failed { error, retryable, .. } => {
                let request = FailRequest { lease_token: token, error, discard: !retryable, ..FailRequest::default() };
                self.client.fail_job(&job.job_id, request).await.map(|_| ())
            }
        };
        if let Err(error) = reported {
            eprintln!("job {}: could not report its outcome: {error}", job.job_id);
        }
    }

    /// Heartbeats until the lease is lost; a cancel requested by an operator cancels `cancel`.
    async fn heartbeat(&self, job_id: &str, token: i64, every: Duration, cancel: CancellationToken) {
        loop {
            tokio::time::sleep(every.max(Duration::from_millis(200))).await;
            match self.client.heartbeat_job(job_id, token, None).await {
                Ok(beat) if beat.cancel_requested => cancel.cancel(),
                Ok(_) => {}
                Err(error) if error.code() == Some("STALE_TOKEN") || error.code() == Some("JOB_NOT_FOUND") => return,
                Err(error) => eprintln!("job {job_id}: heartbeat failed: {error}"),
            }
        }
    }
}
