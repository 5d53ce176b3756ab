//! Code-first durable workflows on Baton.
//!
//! A workflow is an `async fn` whose progress Baton records: each call on its [`WorkflowContext`] (a step, a
//! sleep, a message, an event, a child) is a checkpoint. When the process running it dies, another executor
//! takes the run once its lease lapses and runs the function again from the start; every call that was
//! recorded returns what it recorded, without running again, and the workflow carries on from the first
//! call that was not. So no completed step runs twice; only the step that was running when the process died
//! may (its effect happened, its checkpoint did not).
//!
//! ```no_run
//! use std::time::Duration;
//! use baton_workflow::{ExecutorOptions, Registry, StartOptions, WorkflowContext, WorkflowError, Workflows};
//!
//! async fn order(mut ctx: WorkflowContext, order_id: String) -> Result<String, WorkflowError> {
//!     let charge: String = ctx.step("charge", || async { Ok::<_, String>(format!("ch-{order_id}")) }).await?;
//!     ctx.sleep(Duration::from_secs(1)).await?;
//!     ctx.step("ship", || async { Ok::<_, String>(()) }).await?;
//!     Ok(charge)
//! }
//!
//! # async fn run() -> Result<(), WorkflowError> {
//! let workflows = Workflows::sqlite("./workflow-data").await?; // or Workflows::remote(client)
//! let executor = workflows.executor(Registry::new().register("order", order), ExecutorOptions::default()).spawn();
//! let handle = workflows.start("order", &"o-1", StartOptions::default()).await?;
//! let charge: String = handle.result().await?;
//! executor.stop().await;
//! # Ok(()) }
//! ```
//!
//! # Two modes, one code
//! - **Embedded** ([`Workflows::sqlite`], [`Workflows::postgres`]): Baton's engine runs in this process on a
//!   SQLite file or a PostgreSQL database, with no server.
//! - **Remote** ([`Workflows::remote`]): the code runs here; checkpoints live in a Baton server, reached
//!   through its REST API (`/api/v1/workflows`).
//!
//! # The determinism rule
//! A replay must make the same context calls, in the same order, with the same names, as the run it
//! replays: the **control flow of a workflow must be deterministic**. Anything that can differ between runs
//! goes inside a step or through the context: a clock read (`ctx.now()`), a random draw (`ctx.random()`,
//! `ctx.uuid()`), a network call, a file, an environment variable, a `HashMap`'s iteration order. Branching
//! on a step's *output* is fine, since a replay hands back the same output.
//!
//! Baton checks it: each checkpoint is stored with its index, kind and name, and a replay that asks for a
//! different one at an index fails the workflow with [`WorkflowError::NonDeterministic`] (the server refuses
//! such a write with `NON_DETERMINISTIC` too). The workflow then ends `failed`, and its checkpoints are kept:
//! fix the code and `resume` it, or `fork` it from the step that changed.
//!
//! Also:
//! - Steps of one workflow run one at a time: every context method takes `&mut self`.
//! - A step's closure may run more than once (retries, and after a crash before its checkpoint), so make
//!   its effect idempotent where it matters.
//! - Heartbeats run on the same task as the workflow: a step that computes for long without awaiting should
//!   use `tokio::task::spawn_blocking`.
//! - A `sleep` longer than [`ExecutorOptions::hold_sleeps_up_to`] hands the run back to the queue until it
//!   wakes (it is an attempt of the run's job, of which there are 1000).

mod backend;
mod context;
mod embedded;
mod error;
mod executor;
mod local;
mod registry;
mod remote;
mod workflows;

pub use backend::{Backend, Effect, ListFilter, NewWorkflow, Run, StepWrite, WorkflowPage};
pub use baton_core::workflow::{StepKind, WorkflowOptions, WorkflowRecord, WorkflowState, WorkflowStep};
pub use context::{ChildOptions, StepOptions, WorkflowContext};
pub use embedded::Embedded;
pub use error::WorkflowError;
pub use executor::{Executor, ExecutorOptions, RunningExecutor};
pub use registry::Registry;
pub use remote::Remote;
pub use workflows::{StartOptions, WorkflowHandle, Workflows};
