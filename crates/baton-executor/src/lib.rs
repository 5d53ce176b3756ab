//! Built-in job executors: a job type registered with `{executor: "shell"|"http", config: {...}}` runs without
//! any SDK, by starting a local process or calling an HTTP endpoint.
//!
//! The crate is deliberately standalone: it knows nothing of stores, queues, claims or the worker loop. A worker
//! claims an attempt, builds a [`JobContext`], calls [`execute`] and reports the [`Outcome`]; retry policy, backoff
//! and recording results are the worker's business.
//!
//! - [`config`]: parsing and validating the registration body into an [`ExecutorConfig`].
//! - [`shell`]: one process per attempt, in its own process group, killed as a group on timeout or cancel.
//! - [`http`]: one HTTP request per attempt, with the status mapped to retry or give up.

pub mod config;
pub mod http;
mod job;
pub mod shell;
mod text;

pub use config::{ExecutorConfig, InvalidConfig};
pub use http::HttpConfig;
pub use job::{JobContext, Outcome};
pub use shell::ShellConfig;
use tokio_util::sync::CancellationToken;

/// Runs one attempt of `job` with `config`, to the end: it never returns early with the work still running.
///
/// Cancelling `cancel` (the job was cancelled) stops the work (a shell job's process group is killed, an HTTP
/// request is dropped) and returns `Failed { retryable: false, error: "cancelled" }`. If the returned future is
/// dropped before it finishes, a shell job's process group is killed too, so a worker shutting down leaves no
/// orphans behind.
pub async fn execute(config: &ExecutorConfig, job: &JobContext, cancel: CancellationToken) -> Outcome {
    match config {
        ExecutorConfig::Shell(shell) => shell::run(shell, job, cancel).await,
        ExecutorConfig::Http(http) => http::run(http, job, cancel).await,
    }
}
