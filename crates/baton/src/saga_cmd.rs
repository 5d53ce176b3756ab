//! `baton saga …`: start a saga from a JSON file (the body of `POST /api/v1/sagas`), follow, list and cancel it.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::Context as _;
use baton_api::saga::{SagaList, SagaStatusView, SagaView, StartSagaRequest};
use baton_client::ListSagas;
use clap::Subcommand;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;

#[derive(Subcommand)]
pub enum SagaCommand {
    /// Start a saga described by a JSON file (`-` reads standard input) and print its id.
    Start {
        file: String,
        /// Makes the start safe to repeat: the same key answers the saga it first started.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Show a saga with its step timeline.
    Get { saga_id: String },
    /// Show where a saga is.
    Status { saga_id: String },
    /// List sagas, newest first.
    List {
        /// running, completed, compensating, compensated, compensation_failed or cancelled
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Cancel a saga: what completed is compensated.
    Cancel { saga_id: String },
}

fn describe_status(status: &SagaStatusView) -> String {
    let mut line = format!("{} {} {}", status.saga_id, status.name, status.status);
    if let Some(step) = &status.current_step {
        line.push_str(&format!(" step={step}"));
    }
    if let Some(step) = &status.failed_step {
        line.push_str(&format!(" failed_step={step}"));
    }
    line
}

fn describe(saga: &SagaView) -> String {
    let mut lines = vec![describe_status(&saga.status)];
    for step in &saga.steps {
        let mut line =
            format!("  {} {} {}\t{}\tattempts={}", step.index, step.name, step.phase, step.state, step.attempts);
        if let Some(error) = step.errors.last().and_then(|error| error.get("error")).and_then(|e| e.as_str()) {
            line.push_str(&format!("\tlast_error={error}"));
        }
        lines.push(line);
    }
    lines.join("\n")
}

fn describe_list(list: &SagaList) -> String {
    let mut lines: Vec<String> = list.sagas.iter().map(describe_status).collect();
    lines.extend(list.next_cursor.as_ref().map(|cursor| format!("(more: --cursor {cursor})")));
    if lines.is_empty() { "no sagas".into() } else { lines.join("\n") }
}

fn read_spec(file: &str) -> anyhow::Result<StartSagaRequest> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading the saga from standard input")?;
        text
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    serde_json::from_str(&text).context("the saga is not a valid POST /api/v1/sagas body")
}

pub async fn run(args: &ClientArgs, command: SagaCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        SagaCommand::Start { file, idempotency_key } => {
            let saga = client.start_saga(&read_spec(&file)?, idempotency_key.as_deref()).await?;
            print(args.json, &saga, |saga| describe_status(&saga.status));
        }
        SagaCommand::Get { saga_id } => print(args.json, &client.saga(&saga_id).await?, describe),
        SagaCommand::Status { saga_id } => print(args.json, &client.saga_status(&saga_id).await?, describe_status),
        SagaCommand::List { state, name, limit, cursor } => {
            let filter = ListSagas { state, name, cursor, limit };
            print(args.json, &client.list_sagas(&filter).await?, describe_list);
        }
        SagaCommand::Cancel { saga_id } => print(args.json, &client.cancel_saga(&saga_id).await?, describe),
    }
    Ok(ExitCode::SUCCESS)
}
