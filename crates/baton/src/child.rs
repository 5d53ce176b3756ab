//! The command that `lock run`, `claim run` and `elect` run under their grant: started with the grant in its
//! environment, stopped with `baton` (SIGINT or SIGTERM is passed on, and the grant given back), and its exit
//! status passed on as `baton`'s.

use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitCode, ExitStatus};
use std::time::Duration;

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

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

/// The command's exit status as `baton`'s; a command ended by a signal gives 128 + its number, as a shell reports.
pub fn exit_code(status: ExitStatus) -> ExitCode {
    let code = status.code().or_else(|| status.signal().map(|signal| 128 + signal)).unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// How long a command gets to end after the signal that stops `baton` is passed on, before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// The first SIGINT or SIGTERM sent to `baton` while its command runs.
pub async fn stop_requested() -> Signal {
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => Signal::SIGINT,
        _ = terminate.recv() => Signal::SIGTERM,
    }
}

/// Passes `signal` on to the command and waits for it to end, killing it after `grace`. The command must never
/// outlive `baton`: it would go on working after the grant it runs under stops being renewed.
pub async fn stop(child: &mut Child, signal: Signal, grace: Duration) {
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        child.kill().await.ok();
    }
}

/// `baton`'s exit code when it was stopped by `signal`: 128 + its number, as a shell reports it.
pub fn stopped_by(signal: Signal) -> ExitCode {
    ExitCode::from(u8::try_from(128 + signal as i32).unwrap_or(1))
}
