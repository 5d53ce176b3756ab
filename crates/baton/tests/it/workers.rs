//! `baton worker` and the `baton job`/`baton queue` commands against a real server, including a worker killed
//! with SIGKILL in the middle of a job.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use baton_api::job::{EnqueueJob, FetchRequest, JobTypeRequest, JobView};
use baton_client::{BatonClient, JobContext, JobError, Worker};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::server::{BATON, Server, data_dir, eventually, temp_dir};

fn worker(server: &Server, queue: &str, exec: &str, lease: &str) -> Child {
    Command::new(BATON)
        .args(["worker", "--queue", queue, "--exec", exec, "--lease", lease, "--concurrency", "2"])
        .env("BATON_URL", &server.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baton worker")
}

fn job(payload: Value) -> EnqueueJob {
    EnqueueJob { job_type: "shell".into(), payload, ..EnqueueJob::default() }
}

/// Enqueues a job of type `forever` on queue `slow` and waits until a worker runs it.
async fn start_forever_job(client: &BatonClient) -> JobView {
    let queued = client.enqueue("slow", &EnqueueJob { job_type: "forever".into(), ..job(json!(null)) }).await.unwrap();
    eventually("the job runs", || async {
        client.get_job(&queued.job_id).await.is_ok_and(|job| job.state == "running")
    })
    .await;
    queued
}

#[tokio::test]
async fn a_worker_runs_shell_commands_and_reports_their_outcome() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let mut running = worker(&server, "sh", r#"read payload; echo "{\"seen\": $payload}""#, "30s");
    let ok = client.enqueue("sh", &EnqueueJob { wait_ms: Some(20_000), ..job(json!({"n": 7})) }).await.unwrap();
    assert_eq!(ok.state, "completed", "{ok:?}");
    assert_eq!(ok.result.as_ref().map(|r| r["output"].clone()), Some(json!({"seen": {"n": 7}})));

    let failing = EnqueueJob { max_attempts: Some(1), wait_ms: Some(20_000), ..job(json!(null)) };
    let mut bad_worker = worker(&server, "bad", "echo broken >&2; exit 3", "30s");
    let dead = client.enqueue("bad", &failing).await.unwrap();
    assert_eq!(dead.state, "discarded");
    assert!(dead.errors[0].error.contains("exit code 3"), "{:?}", dead.errors);
    for child in [&mut running, &mut bad_worker] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_runs_again_and_the_dead_workers_ack_is_refused() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let queued = client.enqueue("slow", &job(json!(null))).await.unwrap();
    // The first worker takes the job and is killed while the job runs.
    let mut doomed = worker(&server, "slow", "sleep 30", "2s");
    eventually("the job is running", || async {
        client.get_job(&queued.job_id).await.is_ok_and(|job| job.state == "running")
    })
    .await;
    let first_token = client.get_job(&queued.job_id).await.unwrap().lease_token.unwrap();
    doomed.kill().expect("kill -9");
    let _ = doomed.wait();

    // Once the lease lapses the job goes back to retryable and the next fetch gets a newer token.
    eventually("the lease lapses", || async {
        client.get_job(&queued.job_id).await.is_ok_and(|job| job.state == "retryable")
    })
    .await;
    let retried = client.retry_job(&queued.job_id).await.unwrap();
    assert!(retried.errors[0].error.contains("lease expired"), "{:?}", retried.errors);
    let request = FetchRequest { worker_id: "survivor".into(), ..FetchRequest::default() };
    let again = client.fetch_jobs(&["slow"], request).await.unwrap().remove(0);
    let token = again.lease_token.unwrap();
    assert!(token > first_token);
    let late = client.complete_job(&queued.job_id, first_token, None).await;
    assert_eq!(late.unwrap_err().code(), Some("STALE_TOKEN"), "the dead worker's late ack is refused");
    client.complete_job(&queued.job_id, token, Some(json!("done"))).await.unwrap();
    let finished = client.get_job(&queued.job_id).await.unwrap();
    assert_eq!((finished.state.as_str(), finished.attempt), ("completed", 2), "exactly one completion, on attempt 2");
}

#[tokio::test]
async fn job_and_queue_commands_print_json() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let run = |args: &[&str]| {
        let output = Command::new(BATON).args(args).env("BATON_URL", &server.url).output().expect("run baton");
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).expect("JSON")
    };
    let job = run(&["job", "enqueue", "--queue", "q", "--type", "t", "--payload", r#"{"a":1}"#, "--json"]);
    let id = job["job_id"].as_str().unwrap().to_owned();
    assert_eq!(run(&["job", "get", &id, "--json"])["payload"], json!({"a": 1}));
    assert_eq!(run(&["queue", "pause", "q", "--json"])["paused"], json!(true));
    assert_eq!(run(&["queue", "list", "--json"])["queues"][0]["counts"]["available"], json!(1));
    assert_eq!(run(&["job", "cancel", &id, "--json"])["state"], json!("cancelled"));
    assert_eq!(run(&["job", "list", "--state", "cancelled", "--json"])["jobs"][0]["job_id"], json!(id));
    let added = run(&["schedule", "add", "hourly", "--cron", "0 * * * *", "--queue", "q", "--type", "t", "--json"]);
    assert!(added["next_fire_at"].as_str().is_some_and(|at| at.ends_with(":00:00.000Z")), "{added}");
    assert_eq!(run(&["schedule", "trigger", "hourly", "--json"])["queue"], json!("q"));
    assert_eq!(run(&["schedule", "list", "--json"])["schedules"][0]["name"], json!("hourly"));
    run(&["schedule", "rm", "hourly", "--json"]);

    let file = temp.path().join("jobs.ndjson");
    let lines: Vec<String> = (0..1_200).map(|n| format!(r#"{{"type": "bulk", "payload": {n}}}"#)).collect();
    std::fs::write(&file, lines.join("\n") + "\n\n").unwrap();
    let bulk = run(&["job", "enqueue", "--queue", "bulk", "--file", file.to_str().unwrap(), "--json"]);
    assert_eq!(bulk["enqueued"], json!(1_200));
    let drain = Command::new(BATON)
        .args(["queue", "drain", "bulk", "--timeout", "1s", "--json"])
        .env("BATON_URL", &server.url)
        .output()
        .unwrap();
    assert!(!drain.status.success(), "nothing ran the jobs, so the queue does not drain");
    let report: Value = serde_json::from_slice(&drain.stdout).unwrap();
    assert_eq!(report["unfinished"], json!(1_200));
}

#[tokio::test]
async fn the_sdk_worker_runs_handlers_passes_cancels_on_and_drains_on_shutdown() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let stop = CancellationToken::new();
    let worker = Worker::new(client.clone(), &["sdk"])
        .concurrency(4)
        .lease(Duration::from_secs(3))
        .handle("double", |context: JobContext| async move {
            let n = context.job.payload["n"].as_i64().ok_or_else(|| JobError::discard("n is missing"))?;
            Ok(json!(n * 2))
        })
        .handle("wait-for-cancel", |context: JobContext| async move {
            context.cancelled().await;
            Err(JobError::new("cancelled by request"))
        });
    let running = tokio::spawn(worker.run(stop.clone()));

    let unhandled = client.enqueue("sdk", &EnqueueJob { wait_ms: Some(1_000), ..job(json!({"n": 21})) }).await;
    let unhandled = unhandled.unwrap();
    assert_eq!(unhandled.state, "available", "type 'shell' has no handler and is not fetched");
    let request = EnqueueJob { job_type: "double".into(), wait_ms: Some(20_000), ..job(json!({"n": 21})) };
    assert_eq!(client.enqueue("sdk", &request).await.unwrap().result, Some(json!(42)));
    let bad = EnqueueJob { job_type: "double".into(), wait_ms: Some(20_000), ..job(json!({})) };
    assert_eq!(client.enqueue("sdk", &bad).await.unwrap().state, "discarded");

    let long = client.enqueue("sdk", &EnqueueJob { job_type: "wait-for-cancel".into(), ..job(json!(null)) }).await;
    let long = long.unwrap();
    eventually("the long job runs", || async {
        client.get_job(&long.job_id).await.is_ok_and(|job| job.state == "running")
    })
    .await;
    client.cancel_job(&long.job_id).await.unwrap();
    let cancelled = client.job_result(&long.job_id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(cancelled.state, "cancelled", "the heartbeat passed the cancel to the handler");

    stop.cancel();
    let report = tokio::time::timeout(Duration::from_secs(20), running).await.expect("drains").unwrap();
    assert_eq!((report.completed, report.failed), (1, 2));
}

#[tokio::test]
async fn registered_job_types_run_inside_the_server_with_executors() {
    let temp = temp_dir();
    let server = Server::start(vec!["--data-dir".into(), data_dir(&temp).display().to_string(), "--executors".into()]);
    let client = server.client();
    let shell = JobTypeRequest {
        executor: "shell".into(),
        config: json!({"command": "sh", "args": ["-c", "cat"]}),
        queue: Some("exec".into()),
        ..JobTypeRequest::default()
    };
    assert_eq!(client.save_job_type("echo", &shell).await.unwrap().queue, "exec");
    // The http executor calls a real server: this Baton node's own API.
    let health = JobTypeRequest {
        executor: "http".into(),
        config: json!({"method": "GET", "url": format!("{}/health", server.url)}),
        queue: Some("exec".into()),
        ..JobTypeRequest::default()
    };
    client.save_job_type("probe", &health).await.unwrap();
    let missing = JobTypeRequest {
        config: json!({"method": "GET", "url": format!("{}/no-such-page", server.url)}),
        ..health.clone()
    };
    client.save_job_type("broken-probe", &missing).await.unwrap();

    let run = |job_type: &str, payload: Value| {
        let request = EnqueueJob { job_type: job_type.into(), payload, wait_ms: Some(20_000), ..EnqueueJob::default() };
        let client = client.clone();
        async move { client.enqueue("exec", &request).await.unwrap() }
    };
    let echoed = run("echo", json!({"hello": "world"})).await;
    assert_eq!(echoed.state, "completed", "{echoed:?}");
    assert_eq!(echoed.result.unwrap()["output"], json!({"hello": "world"}), "the payload went in on stdin");
    let probed = run("probe", json!(null)).await;
    assert_eq!((probed.state.as_str(), probed.result.clone().unwrap()["status"].clone()), ("completed", json!(200)));
    let broken = run("broken-probe", json!(null)).await;
    assert_eq!(broken.state, "discarded", "a 4xx fails for good: {broken:?}");

    let invalid =
        JobTypeRequest { executor: "shell".into(), config: json!({"command": ""}), ..JobTypeRequest::default() };
    assert_eq!(client.save_job_type("bad", &invalid).await.unwrap_err().code(), Some("INVALID_ARGUMENT"));
    let unknown = JobTypeRequest { executor: "carrier-pigeon".into(), ..JobTypeRequest::default() };
    assert_eq!(client.save_job_type("bad", &unknown).await.unwrap_err().code(), Some("INVALID_ARGUMENT"));
}

#[tokio::test]
async fn baton_worker_without_exec_runs_the_registered_types() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let shell = JobTypeRequest {
        executor: "shell".into(),
        config: json!({"command": "sh", "args": ["-c", "echo \"\\\"attempt $BATON_JOB_ATTEMPT\\\"\""]}),
        ..JobTypeRequest::default()
    };
    client.save_job_type("attempts", &shell).await.unwrap();
    let mut running = Command::new(BATON)
        .args(["worker", "--queue", "default"])
        .env("BATON_URL", &server.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baton worker");
    let request = EnqueueJob { job_type: "attempts".into(), wait_ms: Some(20_000), ..EnqueueJob::default() };
    let done = client.enqueue("default", &request).await.unwrap();
    assert_eq!((done.state.as_str(), done.result.unwrap()["output"].clone()), ("completed", json!("attempt 1")));
    let _ = running.kill();
    let _ = running.wait();
}

#[tokio::test]
async fn a_worker_stopped_past_its_grace_hands_running_jobs_back() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let stop = CancellationToken::new();
    let worker = Worker::new(client.clone(), &["slow"]).shutdown_grace(Duration::from_millis(200)).handle(
        "forever",
        |context: JobContext| async move {
            context.cancelled().await;
            Err(JobError::new("interrupted"))
        },
    );
    let running = tokio::spawn(worker.run(stop.clone()));
    let queued = start_forever_job(&client).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("stops").unwrap();
    let handed_back = client.get_job(&queued.job_id).await.unwrap();
    assert_eq!(handed_back.state, "retryable", "{handed_back:?}");
    assert!(handed_back.errors[0].error.starts_with("worker stopped"), "{:?}", handed_back.errors);
    let request = FetchRequest { worker_id: "next".into(), ..FetchRequest::default() };
    assert_eq!(client.fetch_jobs(&["slow"], request).await.unwrap().len(), 1, "it runs again at once");
}

#[tokio::test]
async fn an_sdk_worker_stops_a_handler_whose_heartbeats_fail_for_a_whole_lease() {
    /// Tells the test when the handler's future ends, however it ends: finished, or dropped by the worker.
    struct Ended(tokio::sync::mpsc::UnboundedSender<()>);
    impl Drop for Ended {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    let temp = temp_dir();
    let mut server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let worker = Worker::new(client.clone(), &["slow"]).lease(Duration::from_secs(2)).handle(
        "forever",
        move |context: JobContext| {
            let ended = Ended(ended_tx.clone());
            async move {
                let _ended = ended;
                context.cancelled().await;
                Err(JobError::new("interrupted"))
            }
        },
    );
    let running = tokio::spawn(worker.run(stop.clone()));
    start_forever_job(&client).await;

    // With the server gone no heartbeat gets through; once the lease is over the job may run elsewhere.
    server.kill_hard();
    let stopped = tokio::time::timeout(Duration::from_secs(30), ended.recv()).await;
    assert_eq!(stopped.expect("the handler is stopped once its lease is over"), Some(()));
    stop.cancel();
    let report = tokio::time::timeout(Duration::from_secs(10), running).await.expect("stops").unwrap();
    assert_eq!((report.completed, report.failed), (0, 0), "nothing is acknowledged under a lapsed lease");
}
