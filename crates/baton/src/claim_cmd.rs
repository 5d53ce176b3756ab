//! `baton claim …`, including `baton claim run`, which marks the claim done only if its command succeeds.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use baton_api::claim::{ClaimList, ClaimRequest, ClaimStatusView, ClaimView, NextClaimRequest};
use baton_client::{BatonClient, ListClaims};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::ClientArgs;
use crate::child;
use crate::lock_cmd::{client, default_owner};
use crate::output::print;
use crate::seconds_arg::as_seconds;

/// Exit status of `claim run` when the claim is lost while the command runs.
const EXIT_CLAIM_LOST: u8 = 3;

#[derive(Subcommand)]
pub enum ClaimCommand {
    /// Claim a resource and print its claim_id and fencing token.
    Acquire {
        namespace: String,
        resource: String,
        #[arg(long)]
        owner: String,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "30s")]
        ttl: Duration,
        /// JSON metadata kept with the claim.
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Claim the first of the candidates that is neither held nor done.
    Next {
        namespace: String,
        #[arg(long)]
        owner: String,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "30s")]
        ttl: Duration,
        #[arg(required = true)]
        candidates: Vec<String>,
    },
    /// Renew a claim you hold.
    Renew {
        namespace: String,
        resource: String,
        #[arg(long)]
        claim_id: String,
        #[arg(long)]
        owner: String,
    },
    /// Mark a claim done: the resource is never claimed again.
    Done {
        namespace: String,
        resource: String,
        #[arg(long)]
        claim_id: String,
        #[arg(long)]
        owner: String,
        /// JSON merged into the claim's metadata.
        #[arg(long)]
        metadata: Option<String>,
    },
    /// Release a claim without marking it done.
    Discard {
        namespace: String,
        resource: String,
        #[arg(long)]
        claim_id: String,
        #[arg(long)]
        owner: String,
    },
    /// Show whether a resource is free, held or done.
    Status { namespace: String, resource: String },
    /// List held and done claims.
    List {
        namespace: String,
        /// held or done
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Run a command under a claim, renewing it in the background. The claim is marked done if the command
    /// succeeds and discarded otherwise; `baton` exits with the command's status, or 3 if the claim is lost.
    Run {
        namespace: String,
        resource: String,
        /// Defaults to HOSTNAME-PID.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "30s")]
        ttl: Duration,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn describe(claim: &ClaimView) -> String {
    match claim.state.as_str() {
        "done" => format!("{} done by {} at {}", claim.resource, claim.owner, claim.done_at.as_deref().unwrap_or("?")),
        _ => format!(
            "{} claimed by {} claim_id={} fencing_token={} expires_at={}",
            claim.resource,
            claim.owner,
            claim.claim_id,
            claim.fencing_token,
            claim.expires_at.as_deref().unwrap_or("?")
        ),
    }
}

fn describe_status(status: &ClaimStatusView) -> String {
    status.claim.as_ref().map_or_else(|| format!("{} is free", status.resource), describe)
}

fn describe_list(list: &ClaimList) -> String {
    let mut lines: Vec<String> =
        list.claims.iter().map(|c| format!("{}\t{}\t{}\t{}", c.resource, c.state, c.owner, c.fencing_token)).collect();
    lines.extend(list.next_cursor.as_ref().map(|cursor| format!("(more: --cursor {cursor})")));
    if lines.is_empty() { "no claims".into() } else { lines.join("\n") }
}

fn metadata(text: Option<String>) -> anyhow::Result<Option<Value>> {
    text.map(|text| serde_json::from_str(&text).context("--metadata is not JSON")).transpose()
}

pub async fn run(args: &ClientArgs, command: ClaimCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        ClaimCommand::Acquire { namespace, resource, owner, ttl, metadata: raw } => {
            let request = ClaimRequest { owner, ttl_seconds: as_seconds(ttl), metadata: metadata(raw)? };
            print(args.json, &client.claim(&namespace, &resource, &request).await?, describe);
        }
        ClaimCommand::Next { namespace, owner, ttl, candidates } => {
            let request = NextClaimRequest { owner, candidates, ttl_seconds: as_seconds(ttl), metadata: None };
            print(args.json, &client.claim_next(&namespace, &request).await?, describe);
        }
        ClaimCommand::Renew { namespace, resource, claim_id, owner } => {
            print(args.json, &client.renew_claim(&namespace, &resource, &claim_id, &owner).await?, describe);
        }
        ClaimCommand::Done { namespace, resource, claim_id, owner, metadata: raw } => {
            let done = client.done_claim(&namespace, &resource, &claim_id, &owner, metadata(raw)?).await?;
            print(args.json, &done, describe);
        }
        ClaimCommand::Discard { namespace, resource, claim_id, owner } => {
            let discarded = client.discard_claim(&namespace, &resource, &claim_id, &owner).await?;
            print(args.json, &discarded, |claim| format!("{} discarded", claim.resource));
        }
        ClaimCommand::Status { namespace, resource } => {
            print(args.json, &client.claim_status(&namespace, &resource).await?, describe_status);
        }
        ClaimCommand::List { namespace, state, owner, prefix, limit, cursor } => {
            let filter = ListClaims { state, owner, prefix, cursor, limit };
            print(args.json, &client.list_claims(&namespace, &filter).await?, describe_list);
        }
        ClaimCommand::Run { namespace, resource, owner, ttl, command } => {
            return run_under_claim(&client, &namespace, &resource, owner, ttl, command).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_under_claim(
    client: &BatonClient,
    namespace: &str,
    resource: &str,
    owner: Option<String>,
    ttl: Duration,
    command: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let owner = owner.unwrap_or_else(default_owner);
    let request = ClaimRequest { owner, ttl_seconds: as_seconds(ttl), metadata: None };
    let guard = client.hold_claim(namespace, resource, &request).await?;
    let claim = guard.claim().clone();
    let env = [
        ("BATON_FENCING_TOKEN", claim.fencing_token.to_string()),
        ("BATON_CLAIM_ID", claim.claim_id.clone()),
        ("BATON_CLAIM_RESOURCE", claim.resource.clone()),
    ];
    let mut child = child::spawn(&command, &env)?;
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            if status.success() {
                guard.done(Some(json!({"exit_code": 0}))).await?;
            } else {
                guard.discard().await?;
            }
            Ok(child::exit_code(status))
        }
        () = guard.lost() => {
            eprintln!("baton: lost the claim on {resource}; stopping the command");
            child.kill().await.ok();
            Ok(ExitCode::from(EXIT_CLAIM_LOST))
        }
        // Stopped before the command finished: the work is not done, so the claim is given back.
        signal = child::stop_requested() => {
            child::stop(&mut child, signal, child::STOP_GRACE).await;
            guard.discard().await.ok();
            Ok(child::stopped_by(signal))
        }
    }
}
