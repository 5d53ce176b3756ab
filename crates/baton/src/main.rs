//! `baton`: the server (`baton serve`) and a command-line client for it.

mod bulk;
mod cache_cmd;
mod child;
mod claim_cmd;
mod elect_cmd;
mod events_cmd;
mod job_cmd;
mod lease_cmd;
mod lock_cmd;
mod output;
mod saga_cmd;
mod schedule_cmd;
mod seconds_arg;
mod serve;
mod svc_cmd;
mod worker_cmd;
mod workflow_cmd;

use std::process::ExitCode;

/// The SQLite writer thread and the HTTP workers allocate at once; glibc's allocator made them wait on each
/// other's arena locks (about a sixth of the writer's time under load), mimalloc keeps a heap per thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "baton",
    version,
    about = "Coordination service: locks, leases, jobs, sagas, workflows, events, service discovery and more"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every client command shares.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientArgs {
    /// The Baton server to talk to.
    #[arg(long, env = "BATON_URL", default_value = "http://127.0.0.1:8080", global = true)]
    pub server: String,
    /// Namespace of the resources.
    #[arg(long, env = "BATON_NAMESPACE", global = true)]
    pub namespace: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Baton server (embedded SQLite unless a PostgreSQL URL is given).
    Serve(serve::ServeArgs),
    /// Acquire, release and inspect locks, or run a command under one.
    Lock {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: lock_cmd::LockCommand,
    },
    /// Grant, keep alive and revoke leases.
    Lease {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: lease_cmd::LeaseCommand,
    },
    /// Claim work items, renew, mark done or discard them, or run a command under a claim.
    Claim {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: claim_cmd::ClaimCommand,
    },
    /// Run a command only while leader of an election; it is stopped if leadership is lost.
    Elect {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        elect: elect_cmd::ElectArgs,
    },
    /// Show or observe an election.
    Election {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: elect_cmd::ElectionCommand,
    },
    /// Get, set, delete and invalidate cached values.
    Cache {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: cache_cmd::CacheCommand,
    },
    /// Service discovery: register, heartbeat and deregister instances; list and watch services.
    Svc {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: svc_cmd::SvcCommand,
    },
    /// Enqueue, inspect, cancel and retry jobs.
    Job {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: job_cmd::JobCommand,
    },
    /// List queues, pause and resume them, and set their limits.
    Queue {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: job_cmd::QueueCommand,
    },
    /// Cron schedules: add, list, pause, resume, trigger and remove.
    Schedule {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: schedule_cmd::ScheduleCommand,
    },
    /// Start, follow, list and cancel sagas.
    Saga {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: saga_cmd::SagaCommand,
    },
    /// Start, follow, list, cancel, resume and fork durable workflows, and send them messages.
    Workflow {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: workflow_cmd::WorkflowCommand,
    },
    /// Append, read and follow events; list and inspect streams.
    Events {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: events_cmd::EventsCommand,
    },
    /// Run a queue's jobs with a shell command.
    Worker {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        worker: worker_cmd::WorkerArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Lock { client, command } => lock_cmd::run(&client, command).await,
            Command::Lease { client, command } => lease_cmd::run(&client, command).await,
            Command::Claim { client, command } => claim_cmd::run(&client, command).await,
            Command::Cache { client, command } => cache_cmd::run(&client, command).await,
            Command::Elect { client, elect } => elect_cmd::run_elected(&client, elect).await,
            Command::Election { client, command } => elect_cmd::run_election(&client, command).await,
            Command::Svc { client, command } => svc_cmd::run(&client, command).await,
            Command::Job { client, command } => job_cmd::run_job(&client, command).await,
            Command::Queue { client, command } => job_cmd::run_queue(&client, command).await,
            Command::Schedule { client, command } => schedule_cmd::run(&client, command).await,
            Command::Saga { client, command } => saga_cmd::run(&client, command).await,
            Command::Workflow { client, command } => workflow_cmd::run(&client, command).await,
            Command::Events { client, command } => events_cmd::run(&client, command).await,
            Command::Worker { client, worker } => worker_cmd::run(&client, worker).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
