//! `baton lock …`, including `baton lock run`, the lock counterpart of `flock` and `etcdctl lock`.

use std::process::ExitCode;
use std::time::Duration;

use baton_api::lock::{AcquireLockRequest, LockGrant, LockList, LockStatusResponse};
use baton_client::{BatonClient, ListLocks, LockOptions};
use clap::Subcommand;

use crate::ClientArgs;
use crate::child;
use crate::output::print;
use crate::seconds_arg::as_seconds;

/// Exit status of `lock run` when the lock is lost while the command runs.
const EXIT_LOCK_LOST: u8 = 3;

#[derive(Subcommand)]
pub enum LockCommand {
    /// Acquire a lock and print its lock_id and fencing token.
    Acquire {
        key: String,
        #[arg(long)]
        owner: String,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "30s")]
        ttl: Duration,
        /// Wait this long (FIFO) if the lock is held.
        #[arg(long, value_parser = humantime::parse_duration)]
        wait: Option<Duration>,
        /// Make it a semaphore with this many holders.
        #[arg(long)]
        permits: Option<u32>,
        /// Bind the lock to a lease.
        #[arg(long)]
        lease: Option<String>,
    },
    /// Release a lock you hold.
    Release {
        key: String,
        #[arg(long)]
        lock_id: String,
        #[arg(long)]
        owner: String,
    },
    /// Renew a lock you hold.
    Renew {
        key: String,
        #[arg(long)]
        lock_id: String,
        #[arg(long)]
        owner: String,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds)]
        ttl: Option<Duration>,
    },
    /// Show who holds a lock.
    Status { key: String },
    /// List live locks.
    List {
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Run a command while holding the lock, renewing it in the background. The command gets the fencing
    /// token in BATON_FENCING_TOKEN; `baton` exits with its status, or 3 if the lock is lost.
    Run {
        key: String,
        /// Defaults to HOSTNAME-PID.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, value_parser = crate::seconds_arg::whole_seconds, default_value = "30s")]
        ttl: Duration,
        #[arg(long, value_parser = humantime::parse_duration)]
        wait: Option<Duration>,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

pub fn client(args: &ClientArgs) -> anyhow::Result<BatonClient> {
    let client = BatonClient::new(&args.server)?;
    Ok(match &args.namespace {
        Some(namespace) => client.with_namespace(namespace),
        None => client,
    })
}

fn describe_grant(grant: &LockGrant) -> String {
    format!(
        "acquired {} lock_id={} fencing_token={} expires_at={}",
        grant.key, grant.lock_id, grant.fencing_token, grant.expires_at
    )
}

fn describe_status(status: &LockStatusResponse) -> String {
    if !status.is_locked {
        return format!("{} is free ({} waiting)", status.key, status.waiters);
    }
    let holders: Vec<String> = status
        .holders
        .iter()
        .map(|h| {
            format!("  {} lock_id={} fencing_token={} expires_at={}", h.owner, h.lock_id, h.fencing_token, h.expires_at)
        })
        .collect();
    format!("{} is held ({} waiting):\n{}", status.key, status.waiters, holders.join("\n"))
}

fn describe_list(list: &LockList) -> String {
    let mut lines: Vec<String> =
        list.items.iter().map(|h| format!("{}\t{}\t{}\t{}", h.key, h.owner, h.fencing_token, h.expires_at)).collect();
    if let Some(cursor) = &list.next_cursor {
        lines.push(format!("(more: --cursor {cursor})"));
    }
    if lines.is_empty() { "no locks".into() } else { lines.join("\n") }
}

pub async fn run(args: &ClientArgs, command: LockCommand) -> anyhow::Result<ExitCode> {
    let client = client(args)?;
    match command {
        LockCommand::Acquire { key, owner, ttl, wait, permits, lease } => {
            let grant = client
                .acquire_lock(AcquireLockRequest {
                    key,
                    owner,
                    ttl_seconds: as_seconds(ttl),
                    wait_timeout_ms: wait.map(|w| w.as_millis() as i64),
                    permits,
                    lease_id: lease,
                    ..AcquireLockRequest::default()
                })
                .await?;
            print(args.json, &grant, describe_grant);
        }
        LockCommand::Release { key, lock_id, owner } => {
            let released = client.release_lock(&key, &lock_id, &owner).await?;
            print(args.json, &released, |r| format!("released {} lock_id={}", r.key, r.lock_id));
        }
        LockCommand::Renew { key, lock_id, owner, ttl } => {
            let grant = client.renew_lock(&key, &lock_id, &owner, ttl.map(as_seconds)).await?;
            print(args.json, &grant, describe_grant);
        }
        LockCommand::Status { key } => print(args.json, &client.lock_status(&key).await?, describe_status),
        LockCommand::List { owner, prefix, limit, cursor } => {
            let list = client.list_locks(&ListLocks { owner, prefix, cursor, limit }).await?;
            print(args.json, &list, describe_list);
        }
        LockCommand::Run { key, owner, ttl, wait, command } => {
            return run_under_lock(&client, key, owner, ttl, wait, command).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run_under_lock(
    client: &BatonClient,
    key: String,
    owner: Option<String>,
    ttl: Duration,
    wait: Option<Duration>,
    command: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let owner = owner.unwrap_or_else(default_owner);
    let guard = client.lock(LockOptions { key: key.clone(), owner, ttl, wait, metadata: None }).await?;
    let grant = guard.grant().clone();
    let env = [
        ("BATON_FENCING_TOKEN", grant.fencing_token.to_string()),
        ("BATON_LOCK_ID", grant.lock_id.clone()),
        ("BATON_LOCK_KEY", grant.key.clone()),
    ];
    let mut child = child::spawn(&command, &env)?;
    tokio::select! {
        status = child.wait() => {
            let status = status?;
            guard.release().await.ok();
            Ok(child::exit_code(status))
        }
        () = guard.lost() => {
            eprintln!("baton: lost the lock on {key}; stopping the command");
            child.kill().await.ok();
            Ok(ExitCode::from(EXIT_LOCK_LOST))
        }
        signal = child::stop_requested() => {
            child::stop(&mut child, signal, child::STOP_GRACE).await;
            guard.release().await.ok();
            Ok(child::stopped_by(signal))
        }
    }
}

pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}
