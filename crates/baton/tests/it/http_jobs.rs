//! The job API over HTTP against a real embedded server: the worker protocol, long polls, request/reply and
//! bad input.

use std::time::{Duration, Instant};

use baton_api::job::{CompleteItem, EnqueueJob, FailRequest, FetchRequest, QueueSettingsRequest, ScheduleRequest};
use baton_client::{BatonClient, ClientError, ListJobs};
use serde_json::{Value, json};

use crate::server::{Server, data_dir, temp_dir};

fn job(job_type: &str, payload: Value) -> EnqueueJob {
    EnqueueJob { job_type: job_type.into(), payload, ..EnqueueJob::default() }
}

fn fetch(max_jobs: u32, wait_ms: u64) -> FetchRequest {
    FetchRequest { worker_id: "w1".into(), max_jobs: Some(max_jobs), wait_ms: Some(wait_ms), ..FetchRequest::default() }
}

fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> String {
    match result {
        Err(error) => error.code().unwrap_or("no code").to_owned(),
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

async fn post(server: &Server, path: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_worker_fetches_completes_and_a_stale_ack_is_refused() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let queued = client.enqueue("emails", &job("send", json!({"to": "a@example.com"}))).await.unwrap();
    assert_eq!((queued.state.as_str(), queued.attempt), ("available", 0));

    let fetched = client.fetch_jobs(&["emails"], fetch(10, 0)).await.unwrap();
    assert_eq!(fetched.len(), 1);
    let running = &fetched[0];
    assert_eq!((running.job_id.as_str(), running.state.as_str()), (queued.job_id.as_str(), "running"));
    let token = running.lease_token.expect("a lease token");

    let beat = client.heartbeat_job(&running.job_id, token, Some(json!({"pct": 40}))).await.unwrap();
    assert!(!beat.cancel_requested);
    assert_eq!(code(client.complete_job(&running.job_id, token + 1, None).await), "STALE_TOKEN");
    let done = client.complete_job(&running.job_id, token, Some(json!({"sent": true}))).await.unwrap();
    assert_eq!((done.state.as_str(), done.result.clone()), ("completed", Some(json!({"sent": true}))));
    assert!(done.finalized_at.is_some());
    assert_eq!(code(client.complete_job(&running.job_id, token, None).await), "STALE_TOKEN");
    assert_eq!(code(client.get_job("not-a-job").await), "JOB_NOT_FOUND");
}

#[tokio::test]
async fn a_long_poll_is_answered_as_soon_as_a_job_is_enqueued() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let worker = client.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move { worker.fetch_jobs(&["q"], fetch(1, 20_000)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "nothing to fetch yet");
    client.enqueue("q", &job("t", json!(1))).await.unwrap();
    let jobs = poll.await.unwrap().unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the enqueue, not by the poll timeout");
    // The idle poll was handed the job by the enqueue's own transaction, not woken to fetch it.
    let metrics = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|line| line == "baton_jobs_handed_over_total 1"), "{metrics}");
}

#[tokio::test]
async fn a_job_enqueued_while_a_concurrency_limit_holds_its_poll_back_waits_for_room() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let settings = QueueSettingsRequest { global_concurrency: Some(1), ..QueueSettingsRequest::default() };
    client.update_queue("limited", &settings).await.unwrap();
    client.enqueue("limited", &job("t", json!(1))).await.unwrap();
    let running = client.fetch_jobs(&["limited"], fetch(1, 0)).await.unwrap().remove(0);
    let worker = client.clone();
    let poll = tokio::spawn(async move { worker.fetch_jobs(&["limited"], fetch(1, 20_000)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.enqueue("limited", &job("t", json!(2))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished(), "the limit still holds the new job back");
    client.complete_job(&running.job_id, running.lease_token.unwrap(), None).await.unwrap();
    let jobs = poll.await.unwrap().unwrap();
    assert_eq!(jobs.len(), 1, "the finished job made room, and the poll took the new one");
    assert_eq!(jobs[0].payload, json!(2));
    // A poll held back by the limit is not offered to enqueues: it fetched for itself once room was made.
    let metrics = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    assert!(!metrics.lines().any(|line| line == "baton_jobs_handed_over_total 1"), "{metrics}");
}

#[tokio::test]
async fn enqueue_can_wait_for_the_result_and_batches_go_in_one_request() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let batch = client.enqueue_batch("q", vec![job("a", json!(1)), job("b", json!(2))]).await.unwrap();
    assert_eq!(batch.len(), 2);
    let fetched = client.fetch_jobs(&["q"], fetch(2, 0)).await.unwrap();
    // An id that is not a job's fails only its own item, in its own place.
    let not_an_id = CompleteItem { job_id: "not-a-job-id".into(), lease_token: 1, result: None };
    let items = [not_an_id]
        .into_iter()
        .chain(fetched.iter().map(|j| CompleteItem {
            job_id: j.job_id.clone(),
            lease_token: j.lease_token.unwrap(),
            result: None,
        }))
        .chain([CompleteItem { job_id: fetched[0].job_id.clone(), lease_token: -1, result: None }])
        .collect();
    let results = client.complete_jobs(items).await.unwrap().results;
    assert_eq!(results.iter().map(|r| r.ok).collect::<Vec<_>>(), vec![false, true, true, false]);
    let codes: Vec<Option<&str>> = results.iter().map(|r| r.error.as_ref().map(|e| e.code.as_str())).collect();
    assert_eq!(codes, vec![Some("JOB_NOT_FOUND"), None, None, Some("STALE_TOKEN")]);
    assert_eq!(results[0].job_id, "not-a-job-id");

    let worker = client.clone();
    tokio::spawn(async move {
        let jobs = worker.fetch_jobs(&["rpc"], fetch(1, 20_000)).await.unwrap();
        let doubled = jobs[0].payload["n"].as_i64().unwrap() * 2;
        worker.complete_job(&jobs[0].job_id, jobs[0].lease_token.unwrap(), Some(json!(doubled))).await.unwrap();
    });
    let request = EnqueueJob { wait_ms: Some(20_000), ..job("double", json!({"n": 21})) };
    let answered = client.enqueue("rpc", &request).await.unwrap();
    assert_eq!((answered.state.as_str(), answered.result), ("completed", Some(json!(42))));
}

#[tokio::test]
async fn failures_retry_then_go_dead_and_redrive_and_cancel_reaches_the_worker() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let one_try = EnqueueJob { max_attempts: Some(1), ..job("t", json!(null)) };
    let queued = client.enqueue("q", &one_try).await.unwrap();
    let running = client.fetch_jobs(&["q"], fetch(1, 0)).await.unwrap().remove(0);
    // A NUL in the error is kept as U+FFFD rather than refused (the report must not be lost): PostgreSQL cannot
    // store NUL in text.
    let error = "no\u{0}".to_owned();
    let fail = FailRequest { lease_token: running.lease_token.unwrap(), error, ..FailRequest::default() };
    let dead = client.fail_job(&running.job_id, fail).await.unwrap();
    assert_eq!((dead.state.as_str(), dead.errors.len()), ("discarded", 1));
    assert_eq!(dead.errors[0].error, "no\u{fffd}");
    let dead_list = client.list_jobs(&ListJobs { state: Some("discarded".into()), ..ListJobs::default() }).await;
    assert_eq!(dead_list.unwrap().jobs.len(), 1);
    assert_eq!(client.retry_job(&queued.job_id).await.unwrap().state, "available");

    let running = client.fetch_jobs(&["q"], fetch(1, 0)).await.unwrap().remove(0);
    assert_eq!(client.cancel_job(&running.job_id).await.unwrap().state, "running");
    let beat = client.heartbeat_job(&running.job_id, running.lease_token.unwrap(), None).await.unwrap();
    assert!(beat.cancel_requested, "the worker learns of the cancel");
    let queued = client.enqueue("q", &job("t", json!(null))).await.unwrap();
    assert_eq!(client.cancel_job(&queued.job_id).await.unwrap().state, "cancelled");
    assert_eq!(code(client.cancel_job(&queued.job_id).await), "INVALID_STATE");
}

#[tokio::test]
async fn unique_keys_and_queue_settings_work_over_http() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let unique = EnqueueJob { unique_key: Some("order-7".into()), ..job("t", json!(null)) };
    let first = client.enqueue("q", &unique).await.unwrap();
    let (status, again) = post(&server, "/api/v1/queues/q/jobs", r#"{"type": "t", "unique_key": "order-7"}"#).await;
    assert_eq!(
        (status, again["job_id"].as_str(), again["deduplicated"].as_bool()),
        (200, Some(first.job_id.as_str()), Some(true))
    );
    let reject = EnqueueJob { on_conflict: Some("reject".into()), ..unique };
    assert_eq!(code(client.enqueue("q", &reject).await), "DUPLICATE_JOB");

    let pause =
        QueueSettingsRequest { paused: Some(true), global_concurrency: Some(3), ..QueueSettingsRequest::default() };
    let view = client.update_queue("q", &pause).await.unwrap();
    assert_eq!((view.paused, view.global_concurrency, view.counts.get("available")), (true, Some(3), Some(&1)));
    assert!(client.fetch_jobs(&["q"], fetch(1, 0)).await.unwrap().is_empty());
    let resume = QueueSettingsRequest { paused: Some(false), ..QueueSettingsRequest::default() };
    client.update_queue("q", &resume).await.unwrap();
    assert_eq!(client.fetch_jobs(&["q"], fetch(1, 0)).await.unwrap().len(), 1);
    let queues = client.queues().await.unwrap().queues;
    assert_eq!(queues.iter().map(|q| q.queue.as_str()).collect::<Vec<_>>(), vec!["q"]);
}

#[tokio::test]
async fn bad_job_input_gets_a_clear_error() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let cases = [
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "delay_seconds": -5}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "colour": "red"}"#, 422, "INVALID_BODY"),
        ("/api/v1/queues/bad queue/jobs", r#"{"type": "t"}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "priority": 5000}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "priority": -2147483648}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "on_conflict": "reject"}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "backoff": {"strategy": "random"}}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"jobs": []}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "wait_ms": 600000}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/fetch", r#"{"worker_id": "w", "max_jobs": 0}"#, 422, "BATCH_TOO_LARGE"),
        ("/api/v1/queues/q/fetch", r#"{"worker_id": "w", "max_jobs": 5000}"#, 422, "BATCH_TOO_LARGE"),
        ("/api/v1/queues/q/fetch", r#"{"worker_id": "w", "wait_ms": 600000}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/fetch", r#"{"worker_id": ""}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/fetch", r#"{"worker_id": "w\u0000"}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/queues/q/jobs", r#"{"type": "t", "trace_context": "t\u0000"}"#, 422, "INVALID_ARGUMENT"),
        ("/api/v1/jobs/0190a1b2-0000-7000-8000-000000000000/complete", r#"{"lease_token": 1}"#, 404, "JOB_NOT_FOUND"),
    ];
    for (path, body, status, expected) in cases {
        let (got_status, got) = post(&server, path, body).await;
        assert_eq!((got_status, got["error"]["code"].as_str()), (status, Some(expected)), "{path} {body}: {got}");
    }
    let big = format!(r#"{{"type": "t", "payload": "{}"}}"#, "x".repeat(300 * 1024));
    let (status, body) = post(&server, "/api/v1/queues/q/jobs", &big).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("PAYLOAD_TOO_LARGE")));
    let too_many = format!(r#"{{"jobs": [{}]}}"#, vec![r#"{"type": "t"}"#; 1001].join(","));
    let (status, body) = post(&server, "/api/v1/queues/q/jobs", &too_many).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("BATCH_TOO_LARGE")));
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/queues/q", server.url))
        .json(&json!({"paused": true, "turbo": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422, "an unknown queue setting is refused");
    for misspelt in ["/api/v1/jobs?queu=q", "/api/v1/jobs/0190a1b2-0000-7000-8000-000000000000/result?wait=5"] {
        let response = reqwest::get(format!("{}{misspelt}", server.url)).await.unwrap();
        assert_eq!(response.status(), 422, "{misspelt}: an unknown query parameter is refused, not ignored");
    }
    let client: BatonClient = server.client();
    assert!(client.queues().await.unwrap().queues.is_empty(), "no refused request left a job or a setting behind");
}

#[tokio::test]
async fn schedules_are_managed_over_http_and_fire_with_seconds() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    let request = ScheduleRequest {
        name: "every-second".into(),
        cron: "* * * * * *".into(),
        queue: "cron".into(),
        job: EnqueueJob {
            concurrency_key: Some("tenant-1".into()),
            trace_context: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            ..job("tick", json!({"from": "cron"}))
        },
        overlap: Some("allow".into()),
        ..ScheduleRequest::default()
    };
    let saved = client.save_schedule(&request).await.unwrap();
    assert!(saved.next_fire_at.is_some());
    let first = client.fetch_jobs(&["cron"], fetch(1, 5_000)).await.unwrap();
    assert_eq!((first.len(), first[0].payload.clone()), (1, json!({"from": "cron"})));
    assert_eq!(client.schedules().await.unwrap().schedules.len(), 1);
    let paused = client.pause_schedule("every-second", true).await.unwrap();
    assert!(paused.paused && paused.next_fire_at.is_none());
    let triggered = client.trigger_schedule("every-second").await.unwrap();
    assert_eq!(triggered.queue, "cron");
    // Every field of the template reaches the jobs it enqueues (these two were once dropped).
    assert_eq!(triggered.concurrency_key, request.job.concurrency_key);
    assert_eq!(triggered.trace_context, request.job.trace_context);
    client.delete_schedule("every-second").await.unwrap();
    assert_eq!(code(client.schedule("every-second").await), "NOT_FOUND");

    let bad = [
        ScheduleRequest { cron: "61 * * * *".into(), ..request.clone() },
        ScheduleRequest { timezone: Some("Mars/Olympus".into()), ..request.clone() },
        ScheduleRequest { overlap: Some("sometimes".into()), ..request.clone() },
        ScheduleRequest { job: EnqueueJob { delay_seconds: Some(5), ..request.job.clone() }, ..request.clone() },
    ];
    for schedule in bad {
        assert_eq!(code(client.save_schedule(&schedule).await), "INVALID_ARGUMENT", "{schedule:?}");
    }
}

#[tokio::test]
async fn a_fetch_completes_the_previous_batch_in_the_same_request() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let client = server.client();
    client.enqueue_batch("q", (0..4).map(|n| job("t", json!(n))).collect()).await.unwrap();
    let first = client.fetch_jobs(&["q"], fetch(2, 0)).await.unwrap();
    let acks = first
        .iter()
        .map(|j| CompleteItem {
            job_id: j.job_id.clone(),
            lease_token: j.lease_token.unwrap(),
            result: Some(json!("ok")),
        })
        .collect();
    let next = client.fetch_and_complete(&["q"], FetchRequest { complete: Some(acks), ..fetch(2, 0) }).await.unwrap();
    assert_eq!(next.jobs.len(), 2);
    assert!(next.completed.iter().all(|item| item.ok && item.state.as_deref() == Some("completed")));
    assert_eq!(client.get_job(&first[0].job_id).await.unwrap().result, Some(json!("ok")));
}
