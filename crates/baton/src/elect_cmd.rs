//! `baton elect NAME -- CMD` runs CMD only while leader, and stops it with SIGTERM (then SIGKILL after a grace)
//! if leadership is lost; `baton election …` shows and observes an election.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use baton_api::election::{CampaignRequest, ElectionView};
use baton_client::ClientError;
use clap::Subcommand;
use futures::StreamExt as _;
use nix::sys::signal::Signal;

use crate::ClientArgs;
use crate::child;
use crate::lock_cmd::{client, default_owner};
use crate::output::print;
use crate::seconds_arg::as_seconds;

/// Exit status of `elect` when leadership is lost while the command runs.
const EXIT_LEADERSHIP_LOST: u8 = 3;
/// The longest one campaign waits in line before it campaigns again (the server's own limit is an hour).
const CAMPAIGN_WAIT: Duration = Duration::from_secs(600);

#[derive(clap::Args)]
pub struct ElectArgs {
    name: String,
    /// Defaults to HOSTNAME-PID.
    #[arg(long)]
    candidate: Option<String>,
    #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "15s")]
    ttl: Duration,
    /// JSON the leader announces while it leads.
    #[arg(long)]
    value: Option<String>,
    /// How long the command gets to stop after SIGTERM before it is killed.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    grace: Duration,
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Subcommand)]
pub enum ElectionCommand {
    /// Show the leader and how many candidates wait.
    Status { name: String },
    /// Print the election at every change of leader or value, until Ctrl-C.
    Observe { name: String },
}

fn describe(election: &ElectionView) -> String {
    match &election.leader {
        Some(leader) => format!(
            "{} is led by {} (term {}, value {}), {} waiting",
            election.name,
            leader.candidate,
            leader.term,
            leader.value.as_ref().map_or("none".into(), ToString::to_string),
            election.candidates_waiting
        ),
        None => format!("{} has no leader", election.name),
    }
}

pub async fn run_election(args: &ClientArgs, command: ElectionCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        ElectionCommand::Status { name } => print(args.json, &client.election(&name).await?, describe),
        ElectionCommand::Observe { name } => {
            let mut changes = Box::pin(client.observe_election(&name).await?);
            loop {
                let next = tokio::select! {
                    next = changes.next() => next,
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                };
                match next {
                    Some(Ok(election)) if args.json => println!("{}", serde_json::to_string(&election)?),
                    Some(Ok(election)) => println!("{}", describe(&election)),
                    Some(Err(error)) => return Err(error.into()),
                    None => anyhow::bail!("the server ended the observation"),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Campaigns until elected (waiting in line), runs the command while leader, and resigns when it ends.
pub async fn run_elected(args: &ClientArgs, elect: ElectArgs) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    let value = elect.value.as_deref().map(serde_json::from_str).transpose().context("--value is not JSON")?;
    let request = CampaignRequest {
        candidate: elect.candidate.unwrap_or_else(default_owner),
        ttl_seconds: as_seconds(elect.ttl),
        wait_timeout_seconds: Some(CAMPAIGN_WAIT.as_secs() as i64),
        wait_timeout_ms: None,
        value,
    };
    let leadership = loop {
        match client.lead(&elect.name, &request).await {
            Ok(leadership) => break leadership,
            Err(ClientError::Api { code, .. }) if code == "CAMPAIGN_TIMEOUT" => continue,
            Err(error) => return Err(error.into()),
        }
    };
    let env = [
        ("BATON_FENCING_TOKEN", leadership.term().to_string()),
        ("BATON_LEADERSHIP_ID", leadership.view().leadership_id.clone()),
        ("BATON_ELECTION", elect.name.clone()),
    ];
    let mut child = child::spawn(&elect.command, &env)?;
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            leadership.resign().await.ok();
            Ok(child::exit_code(status))
        }
        () = leadership.lost() => {
            eprintln!("baton: lost the leadership of {}; stopping the command", elect.name);
            child::stop(&mut child, Signal::SIGTERM, elect.grace).await;
            Ok(ExitCode::from(EXIT_LEADERSHIP_LOST))
        }
        signal = child::stop_requested() => {
            child::stop(&mut child, signal, elect.grace).await;
            leadership.resign().await.ok();
            Ok(child::stopped_by(signal))
        }
    }
}
