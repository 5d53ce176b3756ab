//! `baton-bench claims`: claims/s, Baton's claims API against a transaction-based claim on etcd.
//!
//! One invocation runs one scenario against one target and prints one JSON line. A worker claims the next
//! unclaimed work item of its own (`item-<client>-<n>`, n counting up), so claims are uncontended, and:
//!
//! - `claim-done`: marks it done right away (it is then never claimed again). One operation = the claim plus
//!   the done, as the lock benchmark counts an acquire plus a release; latency = the pair's round trip. This
//!   is the figure the target is judged on, and it keeps the live keyspace from growing.
//! - `claim`: the claim alone; the claims stay held through the window. After it, each worker ends its own
//!   outside the clock (etcd: revokes its lease; Baton: discards each claim), so that none lapses inside a later
//!   measurement's window.
//!
//! How each target claims (`baton.rs`, `etcd.rs`):
//!
//! | | Baton | etcd |
//! |---|---|---|
//! | claim | `POST /api/v1/claims/{ns}/{item}` `{"owner","ttl_seconds":30}` → 201 | one Txn: if `create_revision(key) == 0` and `create_revision(done/key) == 0`, put `key = owner` with the client's lease |
//! | done | `POST /api/v1/claims/{ns}/{item}/done` `{"claim_id","owner"}` → 200 | one Txn: if `value(key) == owner`, put `done/key` and delete `key` |
//! | TTL | 30 s, per claim | one lease of 30 s per client, granted before the clock starts and kept alive |
//!
//! This module does not start or stop any server: `bench/run-claims.sh` does.

mod baton;
mod etcd;
pub mod summary;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use serde_json::json;

use crate::closed_loop;
use crate::http1::HttpKind;

/// The TTL of every claim (Baton) and of every client's lease (etcd).
pub const CLAIM_TTL_SECS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClaimsTarget {
    Baton,
    Etcd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClaimScenario {
    /// Claim, then mark done: one operation per pair.
    ClaimDone,
    /// Claim only.
    Claim,
}

impl ClaimScenario {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimScenario::ClaimDone => "claim-done",
            ClaimScenario::Claim => "claim",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ClaimsArgs {
    #[arg(long, value_enum)]
    target: ClaimsTarget,
    #[arg(long, value_enum, default_value = "claim-done")]
    scenario: ClaimScenario,
    /// Baton: http://127.0.0.1:18080; etcd: http://127.0.0.1:2379 by default.
    #[arg(long)]
    url: Option<String>,
    /// Name printed as "target" (e.g. baton-sqlite); the target kind by default.
    #[arg(long)]
    label: Option<String>,
    /// Concurrent workers, each with its own connection and its own items.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Length of the measurement window.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Untimed load before the window.
    #[arg(long, default_value_t = 1)]
    warmup_secs: u64,
    /// Baton: the HTTP client of the load generator.
    #[arg(long, value_enum, default_value = "raw")]
    http: HttpKind,
    /// The server's process id, to report its CPU use over the window (`server_cpu_pct`).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What a worker needs to know, on every target.
#[derive(Clone, Debug)]
pub struct ClaimsSpec {
    pub scenario: ClaimScenario,
    /// Unique per measurement: a Baton namespace, an etcd key prefix.
    pub run_id: String,
}

impl ClaimsSpec {
    /// The `n`-th work item of worker `client`.
    pub fn item(client: usize, n: u64) -> String {
        format!("item-{client}-{n}")
    }

    /// The owner name of worker `client`.
    pub fn owner(&self, client: usize) -> String {
        format!("bench-{}-{client}", self.run_id)
    }
}

/// Runs one measurement and prints its JSON line.
pub async fn run(args: ClaimsArgs) -> anyhow::Result<()> {
    let spec = ClaimsSpec { scenario: args.scenario, run_id: run_id() };
    let clients = args.clients.max(1);
    let warmup = Duration::from_secs(args.warmup_secs);
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let (label, note, window) = match args.target {
        ClaimsTarget::Baton => {
            let url = args.url.as_deref().unwrap_or("http://127.0.0.1:18080");
            let workers = baton::connect(&spec, url, clients, args.http).await?;
            let note = format!(
                "Baton claims API over HTTP, {} keep-alive connection per client; claim TTL {CLAIM_TTL_SECS} s",
                args.http.as_str()
            );
            let window = closed_loop::run(workers, warmup, duration, args.server_pid).await?;
            (args.label.unwrap_or_else(|| "baton".into()), note, window)
        }
        ClaimsTarget::Etcd => {
            let url = args.url.as_deref().unwrap_or("http://127.0.0.1:2379");
            let workers = etcd::connect(&spec, url, clients).await?;
            let note = format!(
                "etcd Txn claim (create_revision == 0 on the key and on done/key) under one {CLAIM_TTL_SECS} s \
                 lease per client; done = Txn (value == owner: put done/key, delete key); gRPC channel per client"
            );
            let window = closed_loop::run(workers, warmup, duration, args.server_pid).await?;
            (args.label.unwrap_or_else(|| "etcd".into()), note, window)
        }
    };
    let mut line = window.line(&label, spec.scenario.as_str());
    line["note"] = json!(note);
    println!("{line}");
    Ok(())
}

/// Unique enough per measurement, and valid in a Baton namespace: process id and the time in microseconds.
fn run_id() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{}-{micros}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_claims_items_of_its_own() {
        assert_eq!(ClaimsSpec::item(3, 17), "item-3-17");
        assert_ne!(ClaimsSpec::item(1, 23), ClaimsSpec::item(12, 3));
        let spec = ClaimsSpec { scenario: ClaimScenario::Claim, run_id: "9-1".into() };
        assert_eq!(spec.owner(4), "bench-9-1-4");
    }
}
