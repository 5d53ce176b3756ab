//! The shell executor against real processes: what a job sees, what it produces, and that nothing it started
//! survives a timeout, a cancel, or the attempt being dropped.

use std::path::Path;
use std::time::{Duration, Instant};

use baton_executor::{ExecutorConfig, execute};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{completed, failed, job, parse, run};

/// Every test that waits on a 30 s sleep must be done well before it ends.
const WELL_BEFORE_THE_SLEEP: Duration = Duration::from_secs(20);

fn sh(script: &str) -> ExecutorConfig {
    ExecutorConfig::shell_command(script).unwrap()
}

/// `sh -c SCRIPT sh PID_FILE`: the script sees the pid file's path as `$1`.
fn sh_with_pid_file(script: &str, pid_file: &Path) -> ExecutorConfig {
    parse("shell", json!({"command": "sh", "args": ["-c", script, "sh", pid_file]}))
}

/// The pid a script wrote to `path`, once it has written it.
async fn pid_written_to(path: &Path) -> i32 {
    for _ in 0..400 {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(line) = text.strip_suffix('\n')
        {
            return line.parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing wrote a pid to {}", path.display());
}

/// Whether `pid` is a running process. A killed process stays a zombie until its parent (here, whatever adopted it)
/// reaps it, so a zombie counts as gone.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => !stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Waits (polling: nothing signals the death of a process we are not the parent of) up to 5 s for `pid` to go.
async fn gone(pid: i32) -> bool {
    for _ in 0..200 {
        if !running(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn stdout_that_is_json_is_parsed_into_output() {
    let result = completed(run(&sh(r#"echo '{"sent": 3}'; echo progress >&2"#), &job()).await);

    assert_eq!(result["exit_code"], 0);
    assert_eq!(result["signal"], Value::Null);
    assert_eq!(result["stdout"], "{\"sent\": 3}\n");
    assert_eq!(result["stderr"], "progress\n");
    assert_eq!(result["output"], json!({"sent": 3}));
    assert_eq!((result["stdout_truncated"].clone(), result["stderr_truncated"].clone()), (json!(false), json!(false)));
    assert!(result["duration_ms"].is_u64());
}

#[tokio::test]
async fn stdout_that_is_not_json_has_no_output() {
    let result = completed(run(&sh("echo done"), &job()).await);
    assert_eq!(result["stdout"], "done\n");
    assert!(result.get("output").is_none(), "{result}");
}

#[tokio::test]
async fn payload_arrives_on_stdin_and_in_env() {
    let script = r#"
        stdin=$(cat)
        printf '{"stdin": %s, "env": %s, "id": "%s", "namespace": "%s", "queue": "%s", "type": "%s", "attempt": %s}' \
          "$stdin" "$BATON_JOB_PAYLOAD" "$BATON_JOB_ID" "$BATON_JOB_NAMESPACE" "$BATON_JOB_QUEUE" "$BATON_JOB_TYPE" \
          "$BATON_JOB_ATTEMPT"
    "#;
    let result = completed(run(&sh(script), &job()).await);

    let payload = job().payload;
    assert_eq!(
        result["output"],
        json!({"stdin": payload, "env": payload, "id": "job-1", "namespace": "default", "queue": "emails",
               "type": "send", "attempt": 2})
    );
}

#[tokio::test]
async fn payload_over_the_env_limit_is_left_out_of_env_but_still_on_stdin() {
    let script = r#"
        bytes=$(wc -c | tr -d ' ')
        if [ -n "${BATON_JOB_PAYLOAD+set}" ]; then in_env=true; else in_env=false; fi
        printf '{"stdin_bytes": %s, "in_env": %s}' "$bytes" "$in_env"
    "#;
    // `BATON_JOB_PAYLOAD=` (18 bytes) + JSON + NUL may take up to 128 KiB: a JSON string of 131 053 bytes (131 051
    // characters and two quotes) is the largest that fits. Were the sum off by one, exec would fail with E2BIG.
    let largest_in_env = 128 * 1024 - "BATON_JOB_PAYLOAD=".len() - 1 - 2;
    for (characters, in_env) in [(largest_in_env, true), (largest_in_env + 1, false), (1024 * 1024, false)] {
        let mut job = job();
        job.payload = json!("x".repeat(characters));
        let result = completed(run(&sh(script), &job).await);
        assert_eq!(
            result["output"],
            json!({"stdin_bytes": characters + 2, "in_env": in_env}),
            "{characters} characters"
        );
    }
}

#[tokio::test]
async fn process_that_never_reads_stdin_still_completes() {
    let mut job = job();
    job.payload = json!("y".repeat(1024 * 1024)); // far more than a pipe buffer holds
    let result = completed(run(&parse("shell", json!({"command": "true"})), &job).await);
    assert_eq!(result["exit_code"], 0);
}

#[tokio::test]
async fn args_env_and_working_dir_come_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let config = parse(
        "shell",
        json!({
            "command": "sh",
            "args": ["-c", r#"printf '{"pwd": "%s", "greeting": "%s", "arg": "%s"}' "$(pwd)" "$GREETING" "$1""#, "sh", "a b"],
            "env": {"GREETING": "hello"},
            "working_dir": dir,
        }),
    );
    let result = completed(run(&config, &job()).await);
    assert_eq!(result["output"], json!({"pwd": dir, "greeting": "hello", "arg": "a b"}));
}

#[tokio::test]
async fn non_zero_exit_is_a_retryable_failure_quoting_the_last_stderr_line() {
    let (error, retryable, result) =
        failed(run(&sh("echo 'starting' >&2; echo 'disk full' >&2; echo >&2; exit 3"), &job()).await);

    assert_eq!((error.as_str(), retryable), ("exit code 3: disk full", true));
    assert_eq!((result["exit_code"].clone(), result["signal"].clone()), (json!(3), Value::Null));
    assert_eq!(result["stderr"], "starting\ndisk full\n\n");
}

#[tokio::test]
async fn quoted_stderr_line_is_cut_to_500_characters() {
    let (error, _, _) = failed(run(&sh("printf '%0600d\\n' 0 >&2; exit 1"), &job()).await);
    assert_eq!(error, format!("exit code 1: {}", "0".repeat(500)));
}

#[tokio::test]
async fn death_by_signal_is_a_retryable_failure() {
    let (error, retryable, result) = failed(run(&sh("kill -KILL $$"), &job()).await);

    assert_eq!((error.as_str(), retryable), ("killed by signal 9 (SIGKILL)", true));
    assert_eq!((result["exit_code"].clone(), result["signal"].clone()), (Value::Null, json!(9)));
}

#[tokio::test]
async fn output_is_capped_per_stream_and_marked_truncated() {
    // 1 MiB on each stream, one after the other: the child only finishes if both pipes keep being read past the
    // cap. The cap (1001) lands inside a two-byte character, which is dropped whole.
    let config = parse(
        "shell",
        json!({
            "command": "sh",
            "args": ["-c", "head -c 1048576 /dev/zero | tr '\\0' a; head -c 1048576 /dev/zero | tr '\\0' e | sed 's/e/é/g' >&2"],
            "max_output_bytes": 1001,
        }),
    );
    let result = completed(run(&config, &job()).await);

    assert_eq!(result["stdout"], "a".repeat(1001));
    assert_eq!(result["stdout_truncated"], true);
    assert_eq!(result["stderr"], "é".repeat(500));
    assert_eq!(result["stderr_truncated"], true);
    assert!(result.get("output").is_none());
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let mut job = job();
    job.timeout = Duration::from_secs(2);

    let started = Instant::now();
    let (error, retryable, result) =
        failed(run(&sh_with_pid_file(r#"sleep 30 & echo $! > "$1"; sleep 30"#, &pid_file), &job).await);

    assert!(started.elapsed() < WELL_BEFORE_THE_SLEEP);
    assert_eq!((error.as_str(), retryable), ("timed out after 2s", true));
    assert_eq!(result["signal"], 15, "the script ended on SIGTERM: {result}");
    assert!(gone(pid_written_to(&pid_file).await).await, "the background sleep survived the timeout");
}

#[tokio::test]
async fn timeout_escalates_to_sigkill_when_sigterm_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let mut job = job();
    job.timeout = Duration::from_secs(1);

    let started = Instant::now();
    // An ignored signal stays ignored across fork and exec, so the background sleep ignores SIGTERM too.
    let config = sh_with_pid_file(r#"trap '' TERM; sleep 30 & echo $! > "$1"; wait"#, &pid_file);
    let (error, retryable, result) = failed(run(&config, &job).await);

    assert!(started.elapsed() < WELL_BEFORE_THE_SLEEP);
    assert_eq!((error.as_str(), retryable), ("timed out after 1s", true));
    assert_eq!(result["signal"], 9, "{result}");
    assert!(gone(pid_written_to(&pid_file).await).await, "the background sleep survived SIGKILL");
}

#[tokio::test]
async fn cancel_kills_the_process_group_and_is_not_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let config = sh_with_pid_file(r#"sleep 30 & echo $! > "$1"; sleep 30"#, &pid_file);
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let attempt = tokio::spawn({
        let cancel = cancel.clone();
        async move { execute(&config, &job(), cancel).await }
    });

    let grandchild = pid_written_to(&pid_file).await;
    cancel.cancel();
    let (error, retryable, result) = failed(attempt.await.unwrap());

    assert!(started.elapsed() < WELL_BEFORE_THE_SLEEP);
    assert_eq!((error.as_str(), retryable), ("cancelled", false));
    assert_eq!(result["signal"], 15, "{result}");
    assert!(gone(grandchild).await, "the background sleep survived the cancel");
}

#[tokio::test]
async fn dropping_the_attempt_kills_the_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let config = sh_with_pid_file(r#"sleep 30 & echo $! > "$1"; sleep 30"#, &pid_file);
    let attempt = tokio::spawn(async move { execute(&config, &job(), CancellationToken::new()).await });

    let grandchild = pid_written_to(&pid_file).await;
    attempt.abort();
    assert!(attempt.await.unwrap_err().is_cancelled());

    assert!(gone(grandchild).await, "the background sleep survived the dropped attempt");
}

#[tokio::test]
async fn background_processes_do_not_outlive_a_successful_job() {
    // The background sleep holds stdout open: without killing the group, the attempt would wait 30 s for EOF.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let started = Instant::now();

    let result = completed(run(&sh_with_pid_file(r#"sleep 30 & echo $! > "$1"; echo done"#, &pid_file), &job()).await);

    assert!(started.elapsed() < WELL_BEFORE_THE_SLEEP);
    assert_eq!(result["stdout"], "done\n");
    assert!(gone(pid_written_to(&pid_file).await).await, "the background sleep outlived its job");
}

#[tokio::test]
async fn missing_command_is_a_retryable_failure_naming_it() {
    let config = parse("shell", json!({"command": "baton-no-such-command"}));
    let (error, retryable, result) = failed(run(&config, &job()).await);

    assert!(error.starts_with(r#"could not start "baton-no-such-command": "#), "{error}");
    assert!(retryable);
    assert_eq!(result, Value::Null);
}

#[tokio::test]
async fn missing_working_dir_is_a_retryable_failure() {
    let config = parse("shell", json!({"command": "true", "working_dir": "/baton/no/such/dir"}));
    let (error, retryable, _) = failed(run(&config, &job()).await);
    assert!(error.starts_with(r#"could not start "true": "#), "{error}");
    assert!(retryable);
}
