//! `baton-bench`: measures locks, hand-offs and lease keepalives on Baton, etcd or Redis with one workload shape.
//!
//! `baton-bench locks --target baton|etcd|redis --url URL --duration-secs N` runs the scenarios (see
//! `workload.rs` for their exact definitions) and prints one JSON line per measurement on stdout:
//! `{"target":..,"scenario":..,"clients":..,"ops_per_sec":..,"p50_ms":..,"p99_ms":..,"ops":..[,"note":..]}`.
//! `baton-bench jobs --target baton|bullmq|graphile --scenario ...` measures job queues the same way (see
//! `jobs/mod.rs`): Baton over HTTP from here, BullMQ and graphile-worker through Node drivers it spawns.
//! `baton-bench events --target baton|messagedb --scenario append|subscribe ...` measures event appends and
//! subscription delivery (see `events/mod.rs`): Baton over HTTP and SSE, Message DB over SQL.
//! `baton-bench cache --target baton|redis --scenario get|set ...` measures cache GET and SET (see
//! `cache/mod.rs`): Baton over HTTP from here, Redis with the real redis-benchmark, which it runs and parses.
//! `baton-bench claims --target baton|etcd ...` measures claims/s (see `claims/mod.rs`): Baton over HTTP, etcd
//! with a transaction per claim and per done.
//! `baton-bench workflows --backend sqlite|postgres --scenario sequential|inflight` runs a 3-step no-op durable
//! workflow on Baton's engine in process (see `workflows/mod.rs`); DBOS is measured by its own Python script.
//! `baton-bench summary FILE...` turns such lines into tables with Baton's ratios to each peer.
//! `bench/run-locks.sh`, `run-jobs.sh`, `run-events.sh`, `run-cache.sh` and `run-claims.sh` start every system
//! and run all of it.

mod baton;
mod cache;
mod claims;
mod closed_loop;
mod cpu;
mod etcd;
mod events;
mod http1;
mod jobs;
mod peer_table;
mod redis_peer;
mod report;
mod target;
mod workflows;
mod workload;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};

use crate::http1::HttpKind;
use crate::target::{Scenario, Target};
use crate::workload::RunSpec;

#[derive(Parser)]
#[command(
    name = "baton-bench",
    about = "Benchmarks: Baton against etcd and Redis (locks), BullMQ and graphile-worker (jobs), Message DB (events), \
             Redis (cache) and etcd (claims)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run lock/lease scenarios against one target; one JSON line per measurement on stdout.
    Locks(LocksArgs),
    /// Run one job-queue scenario against Baton, BullMQ or graphile-worker; one JSON line on stdout.
    Jobs(jobs::JobsArgs),
    /// Run one event-store scenario against Baton or Message DB; one JSON line on stdout.
    Events(events::EventsArgs),
    /// Run one cache scenario (GET or SET) against Baton or Redis (redis-benchmark); one JSON line on stdout.
    Cache(cache::CacheArgs),
    /// Run one claims scenario against Baton or etcd; one JSON line on stdout.
    Claims(claims::ClaimsArgs),
    /// Run one durable-workflow scenario on Baton's embedded engine (SQLite or PostgreSQL); one JSON line.
    Workflows(workflows::WorkflowsArgs),
    /// Print tables (medians over runs, ratios to the peers) from JSON lines in files, or stdin.
    Summary { files: Vec<PathBuf> },
}

#[derive(Clone, Copy, ValueEnum)]
enum TargetKind {
    Baton,
    Etcd,
    Redis,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioArg {
    All,
    Uncontended,
    Contended,
    Keepalive,
}

#[derive(clap::Args)]
struct LocksArgs {
    #[arg(long, value_enum)]
    target: TargetKind,
    /// Baton: http://127.0.0.1:18080, etcd: http://127.0.0.1:2379, redis: redis://127.0.0.1:6390 by default.
    /// Baton also takes the nodes of one cluster, comma-separated: clients connect to them in turn.
    #[arg(long)]
    url: Option<String>,
    /// Name printed as "target" (e.g. baton-sqlite); the target kind by default.
    #[arg(long)]
    label: Option<String>,
    #[arg(long, value_enum, default_value = "all")]
    scenario: ScenarioArg,
    /// Length of each measurement window.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Client count; by default uncontended runs with 1 and with 16, contended and keepalive with 16.
    #[arg(long)]
    clients: Option<usize>,
    /// How long a contended acquire may wait before the target gives up (an error).
    #[arg(long, default_value_t = 30)]
    wait_secs: u64,
    /// Baton: the HTTP client that sends acquires and releases.
    #[arg(long, value_enum, default_value = "raw")]
    http: HttpKind,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Summary { files } => report::summarize(&files),
        Command::Locks(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(locks(args))
        }
        Command::Jobs(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(jobs::run(args))
        }
        Command::Events(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(events::run(args))
        }
        Command::Cache(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(cache::run(args))
        }
        Command::Claims(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(claims::run(args))
        }
        Command::Workflows(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            runtime.block_on(workflows::run(args))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("baton-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn locks(args: LocksArgs) -> anyhow::Result<()> {
    let url = args.url.clone();
    match args.target {
        TargetKind::Baton => {
            let urls = url.unwrap_or_else(|| "http://127.0.0.1:18080".into());
            let urls: Vec<String> =
                urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(String::from).collect();
            anyhow::ensure!(!urls.is_empty(), "--url names no Baton server");
            run_scenarios(baton::Baton::new(urls, args.http), "baton", &args).await
        }
        TargetKind::Etcd => {
            let endpoint = url.unwrap_or_else(|| "http://127.0.0.1:2379".into());
            run_scenarios(etcd::Etcd { endpoint }, "etcd", &args).await
        }
        TargetKind::Redis => {
            let url = url.unwrap_or_else(|| "redis://127.0.0.1:6390".into());
            run_scenarios(redis_peer::Redis { url }, "redis", &args).await
        }
    }
}

/// Runs the selected scenarios one after another; keeps going after a failed one and reports failure at the end.
async fn run_scenarios<T: Target>(target: T, kind: &str, args: &LocksArgs) -> anyhow::Result<()> {
    let target = Arc::new(target);
    let label = args.label.as_deref().unwrap_or(kind);
    let mut plan = Vec::new();
    let wants = |s: ScenarioArg| args.scenario == ScenarioArg::All || args.scenario == s;
    if wants(ScenarioArg::Uncontended) {
        match args.clients {
            Some(c) => plan.push((Scenario::Uncontended, c)),
            None => plan.extend([(Scenario::Uncontended, 1), (Scenario::Uncontended, 16)]),
        }
    }
    if wants(ScenarioArg::Contended) {
        plan.push((Scenario::Contended, args.clients.unwrap_or(16)));
    }
    if wants(ScenarioArg::Keepalive) {
        plan.push((Scenario::Keepalive, args.clients.unwrap_or(16)));
    }

    let mut failures = 0;
    for (scenario, clients) in plan {
        let spec = RunSpec {
            scenario,
            clients: clients.max(1),
            duration: Duration::from_secs(args.duration_secs.max(1)),
            run_id: run_id(),
            wait_secs: args.wait_secs.max(1),
        };
        match workload::run(target.clone(), spec, label).await {
            Ok(measurement) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", measurement.to_json())?;
                out.flush()?;
            }
            Err(err) => {
                failures += 1;
                eprintln!("baton-bench: {label} {} with {clients} clients failed: {err:#}", scenario.as_str());
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} measurement(s) against {label} failed");
    }
    Ok(())
}

/// Unique enough per measurement: process id plus the current time in microseconds.
fn run_id() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{}-{micros}", std::process::id())
}
