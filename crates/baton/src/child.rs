//! The command that `lock run`, `claim run` and `elect` run under their grant: started with the grant in its
//! environment, and its exit status passed on as `baton`'s.

use std::process::{ExitCode, ExitStatus};

use anyhow::Context as _;
use tokio::process::{Child, Command};

/// Starts `command` (program and arguments) with `env` added; it is killed if `baton` drops it.
pub fn spawn(command: &[String], env: &[(&str, String)]) -> anyhow::Result<Child> {
    let (program, arguments) = command.split_first().context("no command given")?;
    Command::new(program)
        .args(arguments)
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {program}"))
}

/// The command's exit status as `baton`'s (1 when it was killed by a signal).
pub fn exit_code(status: ExitStatus) -> ExitCode {
    ExitCode::from(status.code().map_or(1, |code| u8::try_from(code).unwrap_or(1)))
}
