//! Running one attempt as a process: spawn it in its own group, feed the payload, capture capped output while
//! waiting for exit, timeout or cancel, then stop the group and turn what happened into an [`Outcome`].

use std::future::Future;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::pin::{Pin, pin};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::ShellConfig;
use super::group::ProcessGroup;
use crate::job::{JobContext, Outcome};
use crate::text::{Capped, format_duration, last_line, millis};

/// How long a timed-out or cancelled job has between SIGTERM and SIGKILL to clean up.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// The largest `BATON_JOB_PAYLOAD=<json>` variable passed, NUL included. Linux refuses to `exec` a program with
/// any single environment string over 128 KiB (`MAX_ARG_STRLEN`), so a bigger payload is left out of the
/// environment (the variable is unset) and a job must read it from stdin, which always has it.
pub const ENV_PAYLOAD_MAX_BYTES: usize = 128 * 1024;

const ENV_PAYLOAD: &str = "BATON_JOB_PAYLOAD";

/// After the job's process is reaped and its group killed, how long to wait for the output pipes to close. Only a
/// process that left the group (`setsid`) yet kept the pipes can hold them longer, and its output is not waited for.
const PIPES_CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why the wait for the process ended.
enum Stop {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

/// Runs one attempt of `job` as the process `config` describes. See [`crate::execute`].
pub(crate) async fn run(config: &ShellConfig, job: &JobContext, cancel: CancellationToken) -> Outcome {
    let started = Instant::now();
    let payload = job.payload.to_string();

    let mut child = match command(config, job, &payload).spawn() {
        Ok(child) => child,
        Err(e) => {
            // Retryable: another worker (or this one, after a deploy) may well have the program.
            return Outcome::Failed {
                error: format!("could not start {:?}: {e}", config.command),
                retryable: true,
                result: Value::Null,
            };
        }
    };
    // Declared after `child` so it drops first: the group is killed before tokio's drop of the child reaps it.
    let group = ProcessGroup::led_by(child.id());

    let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        unreachable!("all three standard streams are piped in `command`");
    };
    let mut out = Capped::new(config.max_output_bytes);
    let mut err = Capped::new(config.max_output_bytes);
    // The pipes borrow `out` and `err` until this block ends; so does the pinned I/O future.
    let (stop, status) = {
        let io = pin!(async {
            tokio::join!(feed(stdin, payload.as_bytes()), drain(stdout, &mut out), drain(stderr, &mut err));
        });
        let mut pipes = Pipes { io, done: false };

        let deadline = started + job.timeout;
        let stop = pipes
            .alongside(async {
                // Biased so that a process which has already exited counts as finished, even if the deadline or a
                // cancel arrived in the same instant.
                tokio::select! {
                    biased;
                    status = child.wait() => Stop::Exited(status),
                    () = sleep_until(deadline) => Stop::TimedOut,
                    () = cancel.cancelled() => Stop::Cancelled,
                }
            })
            .await;

        let status = match &stop {
            Stop::Exited(status) => status.as_ref().ok().copied(),
            Stop::TimedOut | Stop::Cancelled => {
                group.signal(Signal::SIGTERM);
                pipes
                    .alongside(async {
                        tokio::select! {
                            biased;
                            status = child.wait() => status,
                            () = sleep(KILL_GRACE) => {
                                group.signal(Signal::SIGKILL);
                                child.wait().await
                            }
                        }
                    })
                    .await
                    .ok()
            }
        };
        // A job's processes do not outlive its attempt: whatever the script left running in the background (holding
        // the output pipes open, typically) is killed now that the main process has ended.
        group.signal(Signal::SIGKILL);
        pipes.finish(PIPES_CLOSE_WAIT).await;
        (stop, status)
    };
    group.disarm();

    let result = result_json(status, &out, &err, started.elapsed());
    match stop {
        Stop::Exited(Ok(status)) if status.success() => Outcome::Completed { result },
        Stop::Exited(Ok(status)) => {
            Outcome::Failed { error: exit_error(status, &err.to_text()), retryable: true, result }
        }
        Stop::Exited(Err(e)) => {
            Outcome::Failed { error: format!("could not wait for {:?}: {e}", config.command), retryable: true, result }
        }
        Stop::TimedOut => Outcome::Failed {
            error: format!("timed out after {}", format_duration(job.timeout)),
            retryable: true,
            result,
        },
        Stop::Cancelled => Outcome::cancelled(result),
    }
}

/// The process as configured, with the job's variables, piped standard streams, and its own process group.
fn command(config: &ShellConfig, job: &JobContext, payload: &str) -> Command {
    let mut command = Command::new(&config.command);
    command
        .args(&config.args)
        .envs(&config.env)
        .env("BATON_JOB_ID", &job.job_id)
        .env("BATON_JOB_NAMESPACE", &job.namespace)
        .env("BATON_JOB_QUEUE", &job.queue)
        .env("BATON_JOB_TYPE", &job.job_type)
        .env("BATON_JOB_ATTEMPT", job.attempt.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // `NAME=value` plus the terminating NUL is what the kernel measures.
    let env_string_bytes = ENV_PAYLOAD.len() + "=".len() + payload.len() + "\0".len();
    if env_string_bytes <= ENV_PAYLOAD_MAX_BYTES {
        command.env(ENV_PAYLOAD, payload);
    } else {
        // Also hides a BATON_JOB_PAYLOAD the worker itself inherited, which would be some other job's.
        command.env_remove(ENV_PAYLOAD);
    }
    if let Some(dir) = &config.working_dir {
        command.current_dir(dir);
    }
    command
}

/// The pipe I/O of a running process (stdin feed, stdout and stderr capture), polled while the attempt waits for
/// anything else, so the process never blocks on a full pipe.
struct Pipes<'a, F> {
    io: Pin<&'a mut F>,
    done: bool,
}

impl<F: Future<Output = ()>> Pipes<'_, F> {
    /// Waits for `other`, moving the pipes along meanwhile.
    async fn alongside<T>(&mut self, other: impl Future<Output = T>) -> T {
        let mut other = pin!(other);
        loop {
            tokio::select! {
                biased;
                value = &mut other => return value,
                () = self.io.as_mut(), if !self.done => self.done = true,
            }
        }
    }

    /// Waits up to `limit` for every pipe to close; what was read so far is kept either way.
    async fn finish(&mut self, limit: Duration) {
        if !self.done {
            self.done = timeout(limit, self.io.as_mut()).await.is_ok();
        }
    }
}

/// Writes the payload to the process's stdin, then closes it.
async fn feed(mut stdin: ChildStdin, payload: &[u8]) {
    // A process that does not read its stdin closes it by exiting, so a broken pipe is normal here; no write error
    // is the job's failure (its exit status decides that). Dropping `stdin` closes it, which the reader sees as EOF.
    let _ = stdin.write_all(payload).await;
}

/// Reads `pipe` to its end, keeping what fits in `into`.
async fn drain(mut pipe: impl AsyncRead + Unpin, into: &mut Capped) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => into.push(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// `{"exit_code", "signal", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "duration_ms"}`, plus
/// `"output"` (stdout parsed) when stdout is JSON. Exit code and signal are `null` when they do not apply.
fn result_json(status: Option<ExitStatus>, out: &Capped, err: &Capped, elapsed: Duration) -> Value {
    let mut result = json!({
        "exit_code": status.and_then(|s| s.code()),
        "signal": status.and_then(|s| s.signal()),
        "stdout": out.to_text(),
        "stderr": err.to_text(),
        "stdout_truncated": out.truncated,
        "stderr_truncated": err.truncated,
        "duration_ms": millis(elapsed),
    });
    if let Some(output) = out.to_json() {
        result["output"] = output;
    }
    result
}

/// `exit code 3: <last line of stderr>` or `killed by signal 9 (SIGKILL): <...>`.
fn exit_error(status: ExitStatus, stderr: &str) -> String {
    let mut error = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(name) => format!("killed by signal {signal} ({name})"),
            Err(_) => format!("killed by signal {signal}"),
        },
        (None, None) => format!("ended abnormally ({status})"),
    };
    let line = last_line(stderr);
    if !line.is_empty() {
        error.push_str(": ");
        error.push_str(line);
    }
    error
}
