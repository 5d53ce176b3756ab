//! The shell executor: each attempt is one local process, started directly (no shell unless the command is
//! `sh`), fed the payload on stdin and in `BATON_JOB_*` variables, and judged by its exit status.
//!
//! It does not sandbox anything: the process runs as the worker's user, with the worker's environment.

mod config;
mod group;
mod run;

pub use config::{DEFAULT_MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES, ShellConfig};
pub(crate) use run::run;
pub use run::{ENV_PAYLOAD_MAX_BYTES, KILL_GRACE};
