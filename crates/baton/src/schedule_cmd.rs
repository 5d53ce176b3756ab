//! `baton schedule …`: cron schedules that enqueue a job at every tick.

use std::process::ExitCode;

use baton_api::job::{EnqueueJob, ScheduleRequest, ScheduleView};
use clap::Subcommand;
use serde_json::Value;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Create or replace a schedule.
    Add {
        name: String,
        /// Five fields, or six with seconds first: `*/10 * * * * *` fires every ten seconds.
        #[arg(long)]
        cron: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
        #[arg(long)]
        queue: String,
        #[arg(long = "type")]
        job_type: String,
        /// The payload of every job, as JSON.
        #[arg(long, default_value = "null")]
        payload: String,
        /// Skip a tick while the previous tick's job is unfinished.
        #[arg(long)]
        skip_overlap: bool,
    },
    /// Every schedule with its next fire time.
    List,
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
    /// Enqueue the schedule's job now.
    Trigger {
        name: String,
    },
    /// Delete a schedule.
    Rm {
        name: String,
    },
}

fn describe(schedule: &ScheduleView) -> String {
    let next = schedule.next_fire_at.as_deref().unwrap_or("paused");
    format!("{} '{}' ({}) → {}: next {next}", schedule.name, schedule.cron, schedule.timezone, schedule.queue)
}

pub async fn run(args: &ClientArgs, command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        ScheduleCommand::Add { name, cron, timezone, queue, job_type, payload, skip_overlap } => {
            let payload: Value =
                serde_json::from_str(&payload).map_err(|e| anyhow::anyhow!("--payload is not JSON: {e}"))?;
            let request = ScheduleRequest {
                name,
                cron,
                timezone: Some(timezone),
                queue,
                job: EnqueueJob { job_type, payload, ..EnqueueJob::default() },
                overlap: Some(if skip_overlap { "skip" } else { "allow" }.into()),
                ..ScheduleRequest::default()
            };
            print(args.json, &client.save_schedule(&request).await?, describe);
        }
        ScheduleCommand::List => {
            let list = client.schedules().await?;
            print(args.json, &list, |list| list.schedules.iter().map(describe).collect::<Vec<_>>().join("\n"));
        }
        ScheduleCommand::Pause { name } => print(args.json, &client.pause_schedule(&name, true).await?, describe),
        ScheduleCommand::Resume { name } => print(args.json, &client.pause_schedule(&name, false).await?, describe),
        ScheduleCommand::Trigger { name } => {
            let job = client.trigger_schedule(&name).await?;
            print(args.json, &job, |job| format!("enqueued job {} on {}", job.job_id, job.queue));
        }
        ScheduleCommand::Rm { name } => {
            client.delete_schedule(&name).await?;
            print(args.json, &serde_json::json!({"deleted": name}), |_| "deleted".into());
        }
    }
    Ok(ExitCode::SUCCESS)
}
