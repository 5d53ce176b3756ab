//! `baton lease …`.

use std::process::ExitCode;
use std::time::Duration;

use baton_api::lease::LeaseResponse;
use clap::Subcommand;

use crate::ClientArgs;
use crate::lock_cmd::client;
use crate::output::print;
use crate::seconds_arg::as_seconds;

#[derive(Subcommand)]
pub enum LeaseCommand {
    /// Grant a lease.
    Grant {
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "30s")]
        ttl: Duration,
    },
    /// Extend a lease by its TTL.
    Keepalive { lease_id: String },
    /// Revoke a lease, releasing every lock bound to it.
    Revoke { lease_id: String },
}

fn describe(lease: &LeaseResponse) -> String {
    format!("lease {} (ttl {}s) expires at {}", lease.lease_id, lease.ttl_seconds, lease.expires_at)
}

pub async fn run(args: &ClientArgs, command: LeaseCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        LeaseCommand::Grant { ttl } => print(args.json, &client.grant_lease(as_seconds(ttl)).await?, describe),
        LeaseCommand::Keepalive { lease_id } => print(args.json, &client.keepalive_lease(&lease_id).await?, describe),
        LeaseCommand::Revoke { lease_id } => {
            client.revoke_lease(&lease_id).await?;
            print(args.json, &serde_json::json!({"success": true, "lease_id": lease_id}), |_| "revoked".into());
        }
    }
    Ok(ExitCode::SUCCESS)
}
