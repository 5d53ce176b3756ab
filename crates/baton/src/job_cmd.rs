//! `baton job …` and `baton queue …`.

use std::process::ExitCode;
use std::time::Duration;

use baton_api::job::{EnqueueJob, JobView, QueueSettingsRequest, QueueView, RateLimitBody};
use baton_client::ListJobs;
use clap::Subcommand;
use serde_json::Value;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;

#[derive(Subcommand)]
pub enum JobCommand {
    /// Enqueue a job, or every job of a file (`--file`, one JSON job per line) with a progress bar.
    Enqueue {
        #[arg(long)]
        queue: String,
        #[arg(long = "type", required_unless_present = "file")]
        job_type: Option<String>,
        /// A file of jobs, one JSON object per line (`{"type": …, "payload": …}`), sent in batches; `-` is stdin.
        #[arg(long, conflicts_with_all = ["job_type", "wait"])]
        file: Option<std::path::PathBuf>,
        /// The payload, as JSON.
        #[arg(long, default_value = "null")]
        payload: String,
        #[arg(long)]
        priority: Option<i32>,
        #[arg(long, value_parser = humantime::parse_duration)]
        delay: Option<Duration>,
        #[arg(long)]
        max_attempts: Option<u32>,
        #[arg(long)]
        unique_key: Option<String>,
        /// Wait this long for the job to finish and print its outcome.
        #[arg(long, value_parser = humantime::parse_duration)]
        wait: Option<Duration>,
    },
    /// Show a job.
    Get { job_id: String },
    /// List jobs, newest last.
    List {
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long = "type")]
        job_type: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Cancel a job (a running one is told through its heartbeat).
    Cancel { job_id: String },
    /// Run a dead, cancelled or waiting job again now.
    Retry { job_id: String },
    /// Wait for a job to finish and print its result.
    Result {
        job_id: String,
        #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
        wait: Duration,
    },
}

#[derive(Subcommand)]
pub enum QueueCommand {
    /// Every queue, with counts per state.
    List,
    /// Stop handing out the queue's jobs.
    Pause {
        queue: String,
    },
    Resume {
        queue: String,
    },
    /// Wait until the queue has no waiting or running jobs, with a progress bar.
    Drain {
        queue: String,
        /// Give up after this long.
        #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
        timeout: Duration,
    },
    /// Change limits: `--concurrency 0` or `--rate-limit 0` removes one.
    Set {
        queue: String,
        #[arg(long)]
        concurrency: Option<u32>,
        /// Jobs started per `--rate-period`.
        #[arg(long)]
        rate_limit: Option<u32>,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "1s")]
        rate_period: Duration,
        #[arg(long)]
        per_key_concurrency: Option<u32>,
    },
}

fn describe(job: &JobView) -> String {
    let mut line = format!(
        "job {} [{}] {}/{} attempt {}/{}",
        job.job_id, job.state, job.queue, job.job_type, job.attempt, job.max_attempts
    );
    if let Some(result) = &job.result {
        line.push_str(&format!(" result {result}"));
    }
    if let Some(last) = job.errors.last() {
        line.push_str(&format!(" last error: {}", last.error));
    }
    line
}

fn describe_queue(queue: &QueueView) -> String {
    let counts: Vec<String> = queue.counts.iter().map(|(state, n)| format!("{state}={n}")).collect();
    let paused = if queue.paused { " (paused)" } else { "" };
    format!("{}{paused}: {} | {}/min", queue.queue, counts.join(" "), queue.completed_last_minute)
}

pub async fn run_job(args: &ClientArgs, command: JobCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        JobCommand::Enqueue { queue, file: Some(file), .. } => {
            let enqueued = crate::bulk::enqueue_file(&client, &queue, &file).await?;
            print(args.json, &serde_json::json!({"enqueued": enqueued, "queue": queue}), |_| {
                format!("enqueued {enqueued} jobs on {queue}")
            });
        }
        JobCommand::Enqueue { queue, job_type, payload, priority, delay, max_attempts, unique_key, wait, .. } => {
            let payload: Value =
                serde_json::from_str(&payload).map_err(|e| anyhow::anyhow!("--payload is not JSON: {e}"))?;
            let job = EnqueueJob {
                job_type: job_type.unwrap_or_default(),
                payload,
                priority,
                delay_ms: delay.map(|d| d.as_millis() as i64),
                max_attempts,
                unique_key,
                wait_ms: wait.map(|w| w.as_millis() as u64),
                ..EnqueueJob::default()
            };
            print(args.json, &client.enqueue(&queue, &job).await?, describe);
        }
        JobCommand::Get { job_id } => print(args.json, &client.get_job(&job_id).await?, describe),
        JobCommand::List { queue, state, job_type, tag, limit, cursor } => {
            let list = client.list_jobs(&ListJobs { queue, state, job_type, tag, cursor, limit }).await?;
            print(args.json, &list, |list| {
                let mut lines: Vec<String> = list.jobs.iter().map(describe).collect();
                lines.extend(list.next_cursor.as_ref().map(|cursor| format!("more: --cursor {cursor}")));
                lines.join("\n")
            });
        }
        JobCommand::Cancel { job_id } => print(args.json, &client.cancel_job(&job_id).await?, describe),
        JobCommand::Retry { job_id } => print(args.json, &client.retry_job(&job_id).await?, describe),
        JobCommand::Result { job_id, wait } => print(args.json, &client.job_result(&job_id, wait).await?, describe),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_queue(args: &ClientArgs, command: QueueCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    let (queue, settings) = match command {
        QueueCommand::List => {
            let queues = client.queues().await?;
            print(args.json, &queues, |list| list.queues.iter().map(describe_queue).collect::<Vec<_>>().join("\n"));
            return Ok(ExitCode::SUCCESS);
        }
        QueueCommand::Drain { queue, timeout } => {
            let left = crate::bulk::drain(&client, &queue, timeout).await?;
            print(args.json, &serde_json::json!({"queue": queue, "unfinished": left}), |_| {
                if left == 0 {
                    format!("{queue} is drained")
                } else {
                    format!("{queue} still has {left} unfinished jobs")
                }
            });
            return Ok(if left == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        QueueCommand::Pause { queue } => (queue, QueueSettingsRequest { paused: Some(true), ..Default::default() }),
        QueueCommand::Resume { queue } => (queue, QueueSettingsRequest { paused: Some(false), ..Default::default() }),
        QueueCommand::Set { queue, concurrency, rate_limit, rate_period, per_key_concurrency } => {
            let rate_limit = rate_limit.map(|limit| RateLimitBody { limit, period_seconds: rate_period.as_secs() });
            (
                queue,
                QueueSettingsRequest {
                    global_concurrency: concurrency,
                    rate_limit,
                    per_key_concurrency,
                    ..Default::default()
                },
            )
        }
    };
    print(args.json, &client.update_queue(&queue, &settings).await?, describe_queue);
    Ok(ExitCode::SUCCESS)
}
