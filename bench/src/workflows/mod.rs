//! `baton-bench workflows`: a 3-step no-op durable workflow on Baton's engine, embedded in this process on
//! SQLite (durable commits) or PostgreSQL, as DBOS Transact runs in its caller's process
//! (`bench/peers/workflows/dbos_bench.py` is the peer, same workload).
//!
//! - `sequential`: one client starts a workflow, waits for its result, and starts the next; latency is start
//!   to result.
//! - `inflight`: `--clients` such loops at once (32 by default): workflows/s with that many in flight.
//!
//! The executor runs in the same process with as many slots as clients. Each workflow is: its start (one
//! commit: the workflow row and its run's job), the run's fetch (one commit: the lease), one checkpoint per
//! step (one commit each), and the run's completion (one commit, which also ends the workflow). On
//! PostgreSQL the line also carries `wal_syncs_per_workflow`: the server's WAL flushes over the window
//! (`pg_stat_wal.wal_sync`) per workflow measured, the durable writes counted rather than stated.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use baton_postgres::PgOptions;
use baton_workflow::{ExecutorOptions, Registry, RunningExecutor, StartOptions, WorkflowContext, Workflows};
use clap::ValueEnum;
use serde_json::json;

use crate::closed_loop::{self, round};

pub mod summary;

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
}

impl closed_loop::Worker for Client {
    async fn op(&mut self, _n: u64) -> Result<()> {
        let handle = self.workflows.start("noop3", &(), StartOptions::default()).await?;
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

pub async fn run(args: WorkflowsArgs) -> Result<()> {
    let workflows = open(&args).await?;
    let clients = match args.scenario {
        WorkflowScenario::Sequential => 1,
        WorkflowScenario::Inflight => args.clients.max(1),
    };
    let options = ExecutorOptions { concurrency: clients, ..ExecutorOptions::default() };
    let executor: RunningExecutor = workflows.executor(no_op_workflow(), options).spawn();
    let workers: Vec<Client> = (0..clients).map(|_| Client { workflows: workflows.clone() }).collect();
    let measure_wal = args.backend == Backend::Postgres;
    let warmup = Duration::from_secs(args.warmup_secs);
    let duration = Duration::from_secs(args.duration_secs);
    // The WAL count is read around the whole run (warm-up included) and divided by every workflow started.
    let before = if measure_wal { Some(wal_syncs(&args.database_url).await?) } else { None };
    let window = closed_loop::run(workers, warmup, duration, None).await?;
    let after = if measure_wal { Some(wal_syncs(&args.database_url).await?) } else { None };
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
    if let (Some(before), Some(after)) = (before, after) {
        let started = count_started(&args.database_url).await?;
        line["wal_syncs_per_workflow"] = json!(round((after - before) as f64 / started.max(1) as f64, 2));
    }
    println!("{line}");
    Ok(())
}

/// Every workflow the run started (warm-up and tail included), to divide the WAL count by.
async fn count_started(database_url: &str) -> Result<i64> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT count(*) FROM workflows WHERE kind = 'workflow'", &[])
        .await
        .context("counting workflows")?;
    Ok(row.get(0))
}
