//! `baton-bench workflows`: a 3-step no-op durable workflow on Baton's engine, embedded in this process on
//! SQLite (durable commits) or PostgreSQL, as DBOS Transact runs in its caller's process
//! (`bench/peers/workflows/dbos_bench.py` is the peer, same workload).
//!
//! - `sequential`: one client starts a workflow, waits for its result, and starts the next; latency is start
//!   to result.
//! - `inflight`: `--clients` such loops at once (32 by default): workflows/s with that many in flight.
//!
//! The executor runs in the same process with as many slots as clients. Each workflow is: its start (one
//! commit: the workflow row and its run's job, leased in the same commit to the executor when it waits idle),
//! one checkpoint per step (one commit each), and the run's completion (one commit, which also ends the
//! workflow): at most one durable write per step, plus the start and the end. A run that found the executor
//! busy is fetched by it later (one more commit, durable on PostgreSQL, not synced on SQLite). The line
//! carries `wal_syncs_per_workflow`, the durable writes counted rather than stated: on SQLite the writer's
//! WAL syncs (its `baton_sqlite_wal_syncs_total` counter), on PostgreSQL the server's WAL flushes
//! (`pg_stat_wal.wal_sync`, which counts every database's), over the whole run per workflow started.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use baton_postgres::PgOptions;
use baton_workflow::{ExecutorOptions, Registry, RunningExecutor, StartOptions, WorkflowContext, Workflows};
use clap::ValueEnum;
use serde_json::json;

use crate::closed_loop::{self, round};

pub mod summary;
mod wal_syncs;

use wal_syncs::WalSyncs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkflowScenario {
    Sequential,
    Inflight,
}

#[derive(clap::Args, Debug)]
pub struct WorkflowsArgs {
    #[arg(long, value_enum)]
    backend: Backend,
    #[arg(long, value_enum, default_value = "sequential")]
    scenario: WorkflowScenario,
    /// For `inflight`: workflows in flight at once.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// SQLite: the data dir (created; must not be in use).
    #[arg(long, default_value = "/tmp/baton-bench-workflows")]
    data_dir: PathBuf,
    /// PostgreSQL: an empty database of the caller's (the engine migrates it).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/baton_bench_workflows")]
    database_url: String,
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    #[arg(long, default_value_t = 1)]
    warmup_secs: u64,
    #[arg(long, default_value_t = 0)]
    round: u64,
}

const STEPS: usize = 3;

fn no_op_workflow() -> Registry {
    Registry::new().register("noop3", |mut ctx: WorkflowContext, (): ()| async move {
        let mut last = 0;
        for (index, name) in ["one", "two", "three"].into_iter().enumerate() {
            last = ctx.step(name, move || async move { Ok::<_, String>(index) }).await?;
        }
        Ok(last)
    })
}

/// One client: starts a workflow and waits for its result, back to back.
struct Client {
    workflows: Workflows,
    /// Every workflow this run started, warm-up and tail included, to divide the durable writes by.
    started: Arc<AtomicU64>,
}

impl closed_loop::Worker for Client {
    async fn op(&mut self, _n: u64) -> Result<()> {
        let handle = self.workflows.start("noop3", &(), StartOptions::default()).await?;
        self.started.fetch_add(1, Ordering::Relaxed);
        let last: usize = handle.result_within(Duration::from_secs(30)).await?;
        anyhow::ensure!(last == STEPS - 1, "the workflow answered {last}");
        Ok(())
    }
}

/// PostgreSQL's WAL flush count so far, for counting durable writes.
async fn wal_syncs(database_url: &str) -> Result<i64> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = client.query_one("SELECT wal_sync FROM pg_stat_wal", &[]).await.context("reading pg_stat_wal")?;
    Ok(row.get(0))
}

async fn open(args: &WorkflowsArgs) -> Result<Workflows> {
    Ok(match args.backend {
        Backend::Sqlite => Workflows::sqlite(&args.data_dir).await?,
        Backend::Postgres => {
            let options = PgOptions { max_connections: 64, ..PgOptions::new(args.database_url.clone()) };
            Workflows::postgres(options).await?
        }
    })
}

/// Durable writes so far: the SQLite writer's WAL syncs, or the PostgreSQL server's WAL flushes.
async fn durable_writes(args: &WorkflowsArgs, sqlite_syncs: Option<&WalSyncs>) -> Result<i64> {
    match sqlite_syncs {
        Some(syncs) => Ok(i64::try_from(syncs.so_far())?),
        None => wal_syncs(&args.database_url).await,
    }
}

pub async fn run(args: WorkflowsArgs) -> Result<()> {
    let sqlite_syncs = match args.backend {
        Backend::Sqlite => Some(WalSyncs::install().context("another metrics recorder is installed")?),
        Backend::Postgres => None,
    };
    let workflows = open(&args).await?;
    let clients = match args.scenario {
        WorkflowScenario::Sequential => 1,
        WorkflowScenario::Inflight => args.clients.max(1),
    };
    let options = ExecutorOptions { concurrency: clients, ..ExecutorOptions::default() };
    let executor: RunningExecutor = workflows.executor(no_op_workflow(), options).spawn();
    let started = Arc::new(AtomicU64::new(0));
    let workers: Vec<Client> =
        (0..clients).map(|_| Client { workflows: workflows.clone(), started: started.clone() }).collect();
    let warmup = Duration::from_secs(args.warmup_secs);
    let duration = Duration::from_secs(args.duration_secs);
    // Counted around the whole run (warm-up included) and divided by every workflow started.
    let before = durable_writes(&args, sqlite_syncs.as_ref()).await?;
    let window = closed_loop::run(workers, warmup, duration, None).await?;
    let after = durable_writes(&args, sqlite_syncs.as_ref()).await?;
    executor.stop().await;
    let total = workflows.list(baton_workflow::ListFilter { limit: Some(1), ..Default::default() }).await?;
    anyhow::ensure!(!total.workflows.is_empty(), "no workflow was recorded");

    let (target, backend) = match args.backend {
        Backend::Sqlite => ("baton-sqlite", "sqlite"),
        Backend::Postgres => ("baton-postgres", "postgres"),
    };
    let scenario = match args.scenario {
        WorkflowScenario::Sequential => "sequential",
        WorkflowScenario::Inflight => "inflight",
    };
    let mut line = window.line(target, scenario);
    line["bench"] = json!("workflows");
    line["backend"] = json!(backend);
    line["round"] = json!(args.round);
    line["steps"] = json!(STEPS);
    let started = started.load(Ordering::Relaxed).max(1);
    line["wal_syncs_per_workflow"] = json!(round((after - before) as f64 / started as f64, 2));
    println!("{line}");
    Ok(())
}
