//! `baton-bench jobs`: job-queue throughput and pick-up latency, Baton against BullMQ and graphile-worker.
//!
//! One invocation runs one scenario against one target and prints one JSON line (see [`JobsMeasurement`]).
//! Baton is driven from Rust over raw HTTP (`api.rs`, `baton.rs`); the peers are driven by their own Node
//! clients, in the Node scripts under `bench/peers/jobs/`, which this subcommand spawns with the same arguments
//! and whose JSON line it checks and passes on (`peer.rs`). The scenarios are defined once, in words, here; both
//! sides implement them the same way:
//!
//! - `enqueue-single`: C clients, each with its own connection, each enqueueing one job per request for S
//!   seconds. Figure: jobs acknowledged inside the window / S; latency = one request's round trip.
//! - `enqueue-batch`: the same with [`JobsArgs::batch_size`] (100) jobs per request. Latency = one batch's round trip.
//! - `e2e`: workers with total concurrency N wait on an empty queue; when the clock starts, one producer enqueues
//!   batches of 100 continuously (pausing while more than [`BACKLOG_CAP`] jobs are waiting) and the workers
//!   fetch and complete no-op jobs. Figure: completions acknowledged inside the window / S.
//! - `pickup`: workers with concurrency N wait on an idle queue; one producer enqueues one job every
//!   [`JobsArgs::pickup_interval_ms`] for S seconds. Latency per job: from the start of its enqueue request to
//!   the worker having it (Baton: the fetch answer arriving; BullMQ: the processor starting; graphile: the task
//!   function starting).
//!
//! This module does not start or stop any server: `bench/run-jobs.sh` does.

mod api;
mod baton;
mod peer;
pub mod summary;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use serde_json::{Value, json};

use crate::http1::HttpKind;
use crate::report::percentile_ms;

/// In `e2e`, the producer pauses while this many jobs are enqueued but not yet completed, on every target: it
/// keeps the queue fed without letting a backlog grow without bound.
pub const BACKLOG_CAP: u64 = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JobsTarget {
    Baton,
    Bullmq,
    Graphile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JobScenario {
    EnqueueSingle,
    EnqueueBatch,
    E2e,
    Pickup,
}

impl JobScenario {
    pub fn as_str(self) -> &'static str {
        match self {
            JobScenario::EnqueueSingle => "enqueue-single",
            JobScenario::EnqueueBatch => "enqueue-batch",
            JobScenario::E2e => "e2e",
            JobScenario::Pickup => "pickup",
        }
    }
}

/// graphile-worker's configuration: as shipped, or with the batching options of its performance guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphileMode {
    Default,
    Tuned,
}

#[derive(clap::Args, Debug)]
pub struct JobsArgs {
    #[arg(long, value_enum)]
    target: JobsTarget,
    /// Baton: http://127.0.0.1:18080; bullmq: redis://127.0.0.1:6390; graphile:
    /// postgres://postgres@127.0.0.1:5432/baton_bench_jobs by default.
    #[arg(long)]
    url: Option<String>,
    /// Name printed as "target" (e.g. baton-sqlite); by default the target kind (graphile-tuned when tuned).
    #[arg(long)]
    label: Option<String>,
    #[arg(long, value_enum)]
    scenario: JobScenario,
    /// enqueue-*: concurrent clients; e2e and pickup: total worker concurrency (jobs in flight at most).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Length of the measurement window.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Jobs per request in enqueue-batch, and per producer request in e2e.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// pickup: one job is enqueued every this many milliseconds.
    #[arg(long, default_value_t = 5)]
    pickup_interval_ms: u64,
    /// graphile only: `default` (as shipped) or `tuned` (localQueue + batched completion, see README).
    #[arg(long, value_enum, default_value = "default")]
    graphile_mode: GraphileMode,
    /// The Node binary that runs the peer drivers (Node 22 or later for graphile-worker).
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// The node_modules directory holding bullmq and graphile-worker (run-jobs.sh installs them in a scratch
    /// directory). Default: $BATON_BENCH_NODE_MODULES.
    #[arg(long)]
    node_modules: Option<PathBuf>,
    /// Where bullmq.mjs and graphile.mjs live; bench/peers/jobs of this source tree by default.
    #[arg(long)]
    peers_dir: Option<PathBuf>,
    /// Baton: the HTTP client of the producer and the workers.
    #[arg(long, value_enum, default_value = "raw")]
    http: HttpKind,
}

/// Runs one measurement and prints its JSON line.
pub async fn run(args: JobsArgs) -> anyhow::Result<()> {
    let spec = JobsSpec {
        scenario: args.scenario,
        concurrency: args.concurrency.max(1),
        duration: Duration::from_secs(args.duration_secs.max(1)),
        batch_size: args.batch_size.clamp(1, 1000),
        pickup_interval: Duration::from_millis(args.pickup_interval_ms.max(1)),
        run_id: run_id(),
        http: args.http,
    };
    match args.target {
        JobsTarget::Baton => {
            let url = args.url.as_deref().unwrap_or("http://127.0.0.1:18080");
            let label = args.label.as_deref().unwrap_or("baton");
            let measurement = baton::run(&spec, url, label).await?;
            println!("{}", measurement.to_json());
            Ok(())
        }
        JobsTarget::Bullmq | JobsTarget::Graphile => peer::run(&args, &spec).await,
    }
}

/// What one measurement needs to know, on every target.
#[derive(Clone, Debug)]
pub struct JobsSpec {
    pub scenario: JobScenario,
    pub concurrency: usize,
    pub duration: Duration,
    pub batch_size: usize,
    pub pickup_interval: Duration,
    /// Unique per measurement: Baton gets a fresh queue for each (it has no purge endpoint).
    pub run_id: String,
    /// Baton: the HTTP client of the producer and the workers.
    pub http: HttpKind,
}

/// The result of one measurement; the Node drivers print the same JSON shape.
#[derive(Debug, Default)]
pub struct JobsMeasurement {
    pub target: String,
    pub scenario: &'static str,
    pub concurrency: usize,
    pub duration: Duration,
    /// Jobs enqueued (enqueue-*), completed (e2e) or received (pickup) inside the window.
    pub jobs: u64,
    /// Per request (enqueue-*) or per job (pickup); none in e2e.
    pub latencies: Vec<Duration>,
    pub batch: Option<usize>,
    /// e2e: jobs the producer had acknowledged inside the window.
    pub enqueued: Option<u64>,
    /// e2e: jobs enqueued but not completed when the window closed.
    pub backlog_end: Option<i64>,
    /// pickup: jobs sent, and those not received within the grace period after the window.
    pub sent: Option<u64>,
    pub missing: Option<u64>,
    pub note: Option<String>,
}

impl JobsMeasurement {
    pub fn to_json(&self) -> Value {
        let secs = self.duration.as_secs_f64();
        let mut line = json!({
            "target": self.target,
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "duration_secs": self.duration.as_secs(),
            "jobs_per_sec": round(self.jobs as f64 / secs, 1),
            "jobs": self.jobs,
        });
        if !self.latencies.is_empty() {
            let mut sorted = self.latencies.clone();
            sorted.sort_unstable();
            line["p50_ms"] = json!(round(percentile_ms(&sorted, 50.0), 3));
            line["p99_ms"] = json!(round(percentile_ms(&sorted, 99.0), 3));
        }
        if let Some(batch) = self.batch {
            line["batch"] = json!(batch);
        }
        if let Some(enqueued) = self.enqueued {
            line["enqueued_per_sec"] = json!(round(enqueued as f64 / secs, 1));
        }
        if let Some(backlog) = self.backlog_end {
            line["backlog_end"] = json!(backlog);
        }
        if let Some(sent) = self.sent {
            line["sent"] = json!(sent);
        }
        if let Some(missing) = self.missing {
            line["missing"] = json!(missing);
        }
        if let Some(note) = &self.note {
            line["note"] = json!(note);
        }
        line
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Unique enough per measurement: process id plus the current time in microseconds.
fn run_id() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{}-{micros}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_line_carries_what_summary_reads() {
        let m = JobsMeasurement {
            target: "baton-sqlite".into(),
            scenario: "pickup",
            concurrency: 10,
            duration: Duration::from_secs(2),
            jobs: 400,
            latencies: vec![Duration::from_millis(2), Duration::from_millis(1), Duration::from_millis(9)],
            sent: Some(400),
            missing: Some(0),
            ..Default::default()
        };
        let line = m.to_json();
        assert_eq!(line["target"], "baton-sqlite");
        assert_eq!(line["scenario"], "pickup");
        assert_eq!(line["concurrency"], 10);
        assert_eq!(line["jobs_per_sec"], 200.0);
        assert_eq!(line["p50_ms"], 2.0);
        assert_eq!(line["p99_ms"], 9.0);
        assert_eq!(line["sent"], 400);
        assert!(line.get("backlog_end").is_none());
    }
}
