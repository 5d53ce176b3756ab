//! `baton workflow …`: start, follow, list, cancel, resume and fork durable workflows, and send them messages.
//! The workflows' code runs in executors built with `baton-workflow`; this talks to the server only.

use std::process::ExitCode;

use anyhow::Context as _;
use baton_api::workflow::{ForkRequest, StartWorkflowRequest, WorkflowList, WorkflowView};
use baton_client::ListWorkflows;
use clap::Subcommand;
use serde_json::Value;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;

#[derive(Subcommand)]
pub enum WorkflowCommand {
    /// Start a workflow (its code must be registered with an executor) and print its id.
    Start {
        name: String,
        /// The input, as JSON.
        #[arg(long)]
        input: Option<String>,
        /// Starting an id that exists answers that workflow.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        queue: Option<String>,
    },
    /// Show a workflow with its recorded steps.
    Get { workflow_id: String },
    /// List workflows, newest first.
    List {
        /// running, completed, failed or cancelled
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Cancel a workflow: it stops at its next checkpoint.
    Cancel { workflow_id: String },
    /// Run a failed or cancelled workflow again from its checkpoints.
    Resume { workflow_id: String },
    /// Start a new workflow that reuses this one's checkpoints before FROM_STEP.
    Fork {
        workflow_id: String,
        #[arg(long)]
        from_step: usize,
        /// The new workflow's id (a random one by default).
        #[arg(long)]
        id: Option<String>,
    },
    /// Send a message (JSON) to a workflow's `recv(topic)`.
    Send { workflow_id: String, topic: String, message: String },
}

fn describe_line(workflow: &WorkflowView) -> String {
    let mut line = format!("{} {} {}", workflow.workflow_id, workflow.name, workflow.state);
    if let Some(error) = &workflow.error {
        line.push_str(&format!(" error={error}"));
    }
    line
}

fn describe(workflow: &WorkflowView) -> String {
    let mut lines = vec![describe_line(workflow)];
    if let Some(output) = &workflow.output {
        lines.push(format!("  output {output}"));
    }
    for step in workflow.steps.iter().flatten() {
        let mut line = format!("  {} {} {}\tattempts={}", step.index, step.kind, step.name, step.attempts);
        if let Some(error) = &step.error {
            line.push_str(&format!("\terror={error}"));
        }
        lines.push(line);
    }
    lines.join("\n")
}

fn describe_list(list: &WorkflowList) -> String {
    let mut lines: Vec<String> = list.workflows.iter().map(describe_line).collect();
    lines.extend(list.next_cursor.as_ref().map(|cursor| format!("(more: --cursor {cursor})")));
    if lines.is_empty() { "no workflows".into() } else { lines.join("\n") }
}

fn json(what: &str, text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).with_context(|| format!("the {what} is not valid JSON"))
}

pub async fn run(args: &ClientArgs, command: WorkflowCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        WorkflowCommand::Start { name, input, id, queue } => {
            let input = input.as_deref().map(|text| json("input", text)).transpose()?;
            let request =
                StartWorkflowRequest { name, workflow_id: id, input, queue, ..StartWorkflowRequest::default() };
            print(args.json, &client.start_workflow(&request).await?, describe_line);
        }
        WorkflowCommand::Get { workflow_id } => print(args.json, &client.workflow(&workflow_id).await?, describe),
        WorkflowCommand::List { state, name, limit, cursor } => {
            let filter = ListWorkflows { state, name, cursor, limit };
            print(args.json, &client.list_workflows(&filter).await?, describe_list);
        }
        WorkflowCommand::Cancel { workflow_id } => {
            print(args.json, &client.cancel_workflow(&workflow_id).await?, describe_line);
        }
        WorkflowCommand::Resume { workflow_id } => {
            print(args.json, &client.resume_workflow(&workflow_id).await?, describe_line);
        }
        WorkflowCommand::Fork { workflow_id, from_step, id } => {
            let request = ForkRequest { from_step, workflow_id: id };
            print(args.json, &client.fork_workflow(&workflow_id, &request).await?, describe_line);
        }
        WorkflowCommand::Send { workflow_id, topic, message } => {
            client.send_workflow_message(&workflow_id, &topic, json("message", &message)?).await?;
            print(args.json, &serde_json::json!({"sent": true}), |_| "sent".to_owned());
        }
    }
    Ok(ExitCode::SUCCESS)
}
