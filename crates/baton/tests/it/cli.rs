//! The `baton` CLI against a real server: lock commands, `--json`, and `lock run`.

use std::process::{Command, Output};
use std::time::Duration;

use baton_client::LockOptions;
use serde_json::Value;

use crate::server::{BATON, Server, data_dir, temp_dir};

fn baton(server: &Server, args: &[&str]) -> Output {
    Command::new(BATON).args(args).env("BATON_URL", &server.url).output().expect("run baton")
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[tokio::test]
async fn lock_commands_acquire_show_list_and_release() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let grant = json_of(&baton(&server, &["lock", "acquire", "deploy", "--owner", "ci", "--ttl", "30s", "--json"]));
    let lock_id = grant["lock_id"].as_str().unwrap().to_owned();

    // A TTL is sent in whole seconds: 500ms is refused by the CLI, not sent as 0 or rounded.
    let sub_second = baton(&server, &["lock", "acquire", "deploy", "--owner", "other", "--ttl", "500ms"]);
    assert_eq!(sub_second.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&sub_second.stderr).contains("whole number of seconds"));

    let held = baton(&server, &["lock", "acquire", "deploy", "--owner", "other", "--ttl", "30s"]);
    assert!(!held.status.success());
    assert!(String::from_utf8_lossy(&held.stderr).contains("LOCK_HELD"));

    let status = baton(&server, &["lock", "status", "deploy"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("deploy is held"), "human-readable by default");
    let listed = json_of(&baton(&server, &["lock", "list", "--owner", "ci", "--json"]));
    assert_eq!(listed["items"][0]["lock_id"].as_str(), Some(lock_id.as_str()));

    // `--wait` queues behind the holder and is granted on its release; without a release it times out.
    let waiter = Command::new(BATON)
        .args(["lock", "acquire", "deploy", "--owner", "next", "--ttl", "30s", "--wait", "20s", "--json"])
        .env("BATON_URL", &server.url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run baton");
    let queued = || async { json_of(&baton(&server, &["lock", "status", "deploy", "--json"]))["waiters"] == 1 };
    crate::server::eventually("the waiter queues", queued).await;
    json_of(&baton(&server, &["lock", "release", "deploy", "--lock-id", &lock_id, "--owner", "ci", "--json"]));
    let granted = json_of(&waiter.wait_with_output().unwrap());
    assert_eq!(granted["owner"], "next");
    let timed_out = baton(&server, &["lock", "acquire", "deploy", "--owner", "late", "--ttl", "30s", "--wait", "1s"]);
    assert!(String::from_utf8_lossy(&timed_out.stderr).contains("LOCK_WAIT_TIMEOUT"), "{timed_out:?}");
    let next_id = granted["lock_id"].as_str().unwrap();
    json_of(&baton(&server, &["lock", "release", "deploy", "--lock-id", next_id, "--owner", "next", "--json"]));
    assert_eq!(json_of(&baton(&server, &["lock", "status", "deploy", "--json"]))["is_locked"], Value::Bool(false));
}

#[tokio::test]
async fn lock_run_passes_the_fencing_token_and_exits_with_the_command_status() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let token_file = temp.path().join("token");
    let script = format!(
        r#"test -n "$BATON_FENCING_TOKEN" && test "$BATON_LOCK_KEY" = nightly && echo "$BATON_FENCING_TOKEN" > {} && exit 7"#,
        token_file.display()
    );
    let output = baton(&server, &["lock", "run", "nightly", "--ttl", "5s", "--", "sh", "-c", &script]);
    assert_eq!(output.status.code(), Some(7), "{}", String::from_utf8_lossy(&output.stderr));
    let token: i64 = std::fs::read_to_string(&token_file).unwrap().trim().parse().unwrap();
    assert!(token > 0);
    assert!(!server.client().lock_status("nightly").await.unwrap().is_locked, "released after the command");
}

#[tokio::test]
async fn lock_run_waits_for_a_held_lock_then_runs() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let first = client
        .acquire_lock(baton_api::lock::AcquireLockRequest {
            key: "k".into(),
            owner: "a".into(),
            ttl_seconds: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let output = baton(&server, &["lock", "run", "k", "--wait", "10s", "--", "sh", "-c", "echo $BATON_FENCING_TOKEN"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token: i64 = String::from_utf8_lossy(&output.stdout).trim().parse().unwrap();
    assert!(token > first.fencing_token);
}

/// A guard on key `k` with a one-second TTL, so renewals and losses happen within a test.
async fn one_second_guard(client: &baton_client::BatonClient) -> baton_client::LockGuard {
    let options =
        LockOptions { key: "k".into(), owner: "a".into(), ttl: Duration::from_secs(1), wait: None, metadata: None };
    client.lock(options).await.expect("lock k")
}

#[tokio::test]
async fn a_lock_guard_reports_the_lock_lost_when_the_server_is_gone() {
    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    let guard = one_second_guard(&server.client()).await;
    assert!(!guard.is_lost());
    server.kill_hard();
    tokio::time::timeout(Duration::from_secs(10), guard.lost()).await.expect("the loss is reported");
}

#[tokio::test]
async fn a_lock_guard_renews_past_its_ttl() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let guard = one_second_guard(&client).await;
    let first_expiry = guard.grant().expires_at.clone();
    crate::server::eventually("the guard renews", || {
        let client = client.clone();
        let first_expiry = first_expiry.clone();
        async move { client.lock_status("k").await.unwrap().expires_at.is_some_and(|e| e > first_expiry) }
    })
    .await;
    assert!(!guard.is_lost());
    guard.release().await.unwrap();
    assert!(!client.lock_status("k").await.unwrap().is_locked);
}

#[tokio::test]
async fn lock_run_stops_the_command_and_exits_3_when_the_lock_is_lost() {
    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    let started = temp.path().join("started");
    // `exec`: the stop signal must reach the sleep itself, which holds the stderr pipe this test reads to its end.
    let mut run = std::process::Command::new(BATON)
        .args(["lock", "run", "k", "--ttl", "1s", "--", "sh", "-c", "touch \"$0\"; exec sleep 60"])
        .arg(&started)
        .env("BATON_URL", &server.url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The command itself says it runs: the lock showing as held is not enough, as the server can commit the
    // grant before `lock run` reads its answer, and a kill in between failed the acquire instead (exit 1).
    crate::server::eventually("the command runs under the lock", || {
        let started = started.clone();
        async move { started.exists() }
    })
    .await;
    // Without its server the lock cannot be renewed, so it is lost when its TTL lapses.
    server.kill_hard();
    let status = tokio::task::spawn_blocking(move || {
        let status = run.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut run.stderr.take().unwrap(), &mut stderr).unwrap();
        (status, stderr)
    });
    let (status, stderr) = tokio::time::timeout(Duration::from_secs(20), status).await.expect("baton exits").unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("lost the lock on k"), "{stderr}");
}

#[tokio::test]
async fn events_commands_append_read_list_and_tail() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let appended = json_of(&baton(
        &server,
        &[
            "events",
            "append",
            "orders",
            "--type",
            "placed",
            "--data",
            r#"{"total": 12}"#,
            "--expected-version",
            "no_stream",
            "--json",
        ],
    ));
    assert_eq!(appended["global_position"], 1);
    let refused =
        baton(&server, &["events", "append", "orders", "--type", "placed", "--data", "{}", "--expected-version", "5"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("WRONG_EXPECTED_VERSION"));
    let bad_json = baton(&server, &["events", "append", "orders", "--type", "placed", "--data", "{oops"]);
    assert!(String::from_utf8_lossy(&bad_json.stderr).contains("--data is not JSON"));
    baton(&server, &["events", "append", "orders", "--type", "paid", "--data", "{}"]);

    let read = baton(&server, &["events", "read", "orders"]);
    let text = String::from_utf8_lossy(&read.stdout);
    assert!(text.contains("orders@0 placed {\"total\":12}") && text.contains("orders@1 paid"), "{text}");
    let log = json_of(&baton(&server, &["events", "read", "$all", "--from", "2", "--json"]));
    assert_eq!(log.as_array().map(Vec::len), Some(1));
    let streams = baton(&server, &["events", "streams"]);
    assert!(String::from_utf8_lossy(&streams.stdout).contains("orders at version 1"));
    let info = json_of(&baton(&server, &["events", "info", "orders", "--json"]));
    assert_eq!(info["count"], 2);

    // tail follows live until stopped: it prints history from --from, then what is appended meanwhile.
    let mut tail = std::process::Command::new(crate::server::BATON)
        .args(["events", "tail", "--from", "1", "--json"])
        .env("BATON_URL", &server.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run baton events tail");
    tokio::time::sleep(Duration::from_millis(500)).await;
    baton(&server, &["events", "append", "refunds", "--type", "refunded", "--data", "{}"]);
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(tail.stdout.take().unwrap()));
    let mut positions = Vec::new();
    while positions.len() < 3 {
        let line = lines.next().expect("a line").unwrap();
        if let Ok(event) = serde_json::from_str::<Value>(&line) {
            positions.extend(event["global_position"].as_i64());
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    assert_eq!(positions, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_lock_guard_that_waited_counts_its_ttl_from_the_grant() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let first = baton_api::lock::AcquireLockRequest {
        key: "k".into(),
        owner: "first".into(),
        ttl_seconds: 30,
        ..Default::default()
    };
    let held = client.acquire_lock(first).await.unwrap();
    // Released after most of the waiter's 3 s TTL: counted from its request, the guard took the lock it was
    // granted for lapsed half a second later, and reported it lost.
    let releaser = {
        let client = client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            client.release_lock("k", &held.lock_id, "first").await.unwrap();
        })
    };
    let options = LockOptions {
        key: "k".into(),
        owner: "a".into(),
        ttl: Duration::from_secs(3),
        wait: Some(Duration::from_secs(20)),
        metadata: None,
    };
    let guard = client.lock(options).await.expect("granted after the wait");
    releaser.await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!guard.is_lost(), "the guard renewed the lock it holds");
    assert_eq!(client.lock_status("k").await.unwrap().owner.as_deref(), Some("a"));
}

#[tokio::test]
async fn a_lock_run_stopped_by_sigterm_stops_its_command_and_releases_the_lock() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let pid_file = temp.path().join("pid");
    let script = format!("echo $$ > {}.part && mv {0}.part {0} && exec sleep 30", pid_file.display());
    let mut run = Command::new(BATON)
        .args(["lock", "run", "k", "--", "sh", "-c", &script])
        .env("BATON_URL", &server.url)
        .spawn()
        .expect("run baton");
    crate::server::eventually("the command runs under the lock", || async { pid_file.exists() }).await;
    let command_pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
    let sent = Command::new("kill").args(["-TERM", &run.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15), "stopped by SIGTERM, as a shell reports it");
    assert!(!server.client().lock_status("k").await.unwrap().is_locked, "released at once, not left to its TTL");
    let alive = Command::new("kill").args(["-0", &command_pid]).stderr(std::process::Stdio::null()).status().unwrap();
    assert!(!alive.success(), "the command does not outlive baton");
}
