//! What a saga step declares beyond its action, proven against a real server: its own `input`, a built-in
//! executor instead of a worker, its `timeout_seconds`, and its retry policy as it applies to the compensation.
//! The steps' jobs are taken by a plain-REST worker, except where a shell executor performs them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::rest_worker::RestWorker;
use crate::sagas::phase;
use crate::server::{Server, data_dir, temp_dir};

/// Retries at once, so the next attempt is waiting as soon as the last one ended.
fn retry_once() -> Value {
    json!({"max_retries": 1, "backoff_strategy": "fixed", "initial_delay_ms": 0})
}

async fn start(worker: &RestWorker, body: &Value) -> String {
    let (status, saga) = worker.post("/api/v1/sagas", body).await;
    assert_eq!(status, StatusCode::CREATED, "{saga}");
    saga["saga_id"].as_str().unwrap().to_owned()
}

async fn saga(worker: &RestWorker, saga_id: &str) -> Value {
    let (status, saga) = worker.get(&format!("/api/v1/sagas/{saga_id}")).await;
    assert_eq!(status, StatusCode::OK, "{saga}");
    saga
}

#[tokio::test]
async fn a_steps_own_input_reaches_its_job_beside_the_saga_input_and_earlier_outputs() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let saga_id = start(
        &worker,
        &json!({"name": "order", "input": {"order": 7}, "steps": [
            {"name": "reserve", "service": "shop", "action": "reserve", "timeout_seconds": 30, "input": {"sku": "A-1"}},
            {"name": "charge", "service": "shop", "action": "charge", "timeout_seconds": 30, "input": {"cents": 500}},
        ]}),
    )
    .await;

    // The whole payload, so a field that went missing or moved shows up here.
    let reserve = worker.expect("shop", "shop.reserve").await;
    assert_eq!(
        reserve["payload"],
        json!({"saga_id": saga_id, "saga": "order", "step": "reserve", "phase": "action", "input": {"order": 7},
            "step_input": {"sku": "A-1"}, "outputs": {}})
    );
    worker.complete(&reserve, json!({"reservation": "r-1"})).await;
    let charge = worker.expect("shop", "shop.charge").await;
    assert_eq!(
        charge["payload"],
        json!({"saga_id": saga_id, "saga": "order", "step": "charge", "phase": "action", "input": {"order": 7},
            "step_input": {"cents": 500}, "outputs": {"reserve": {"reservation": "r-1"}}}),
        "each step sees its own input, not the one before it"
    );
    worker.complete(&charge, json!("paid")).await;
    assert_eq!(saga(&worker, &saga_id).await["status"], json!("completed"));
}

#[tokio::test]
async fn a_step_run_by_the_built_in_shell_executor_completes_the_saga_without_a_worker() {
    let temp = temp_dir();
    let server = Server::start(vec!["--data-dir".into(), data_dir(&temp).display().to_string(), "--executors".into()]);
    let worker = RestWorker::new(&server.url);
    // `cat` answers the payload it was fed on stdin, so the recorded output shows the step got its own payload.
    let job_type =
        json!({"executor": "shell", "config": {"command": "sh", "args": ["-c", "cat"]}, "queue": "shipping"});
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/job-types/shipping.print_label", server.url))
        .json(&job_type)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let saga_id = start(
        &worker,
        &json!({"name": "ship", "steps": [{"name": "label", "service": "shipping", "action": "print_label",
            "timeout_seconds": 30, "input": {"parcel": "p-9"}}]}),
    )
    .await;

    // The in-server pool reads the job type registry every few seconds, so allow it well beyond that.
    let mut done = Value::Null;
    for _ in 0..300 {
        done = saga(&worker, &saga_id).await;
        if done["status"] != json!("running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], json!("completed"), "{done}");
    let label = phase(&done, "label", "action");
    assert_eq!((&label["state"], &label["attempts"]), (&json!("completed"), &json!(1)));
    assert_eq!(label["output"]["exit_code"], json!(0), "{label}");
    assert_eq!(label["output"]["output"]["step_input"], json!({"parcel": "p-9"}), "{label}");
    assert_eq!(label["output"]["output"]["saga_id"], json!(saga_id));
}

#[tokio::test]
async fn a_step_attempt_past_its_timeout_fails_and_is_retried_by_its_policy() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let saga_id = start(
        &worker,
        &json!({"name": "slow", "steps": [
            {"name": "call", "service": "slow", "action": "call", "timeout_seconds": 1, "retry_policy": retry_once()},
            {"name": "after", "service": "slow", "action": "after", "timeout_seconds": 30},
        ]}),
    )
    .await;

    // A lease far longer than the timeout, so only the timeout can end this attempt.
    let first = worker.fetch("slow", 5_000, 300).await.expect("the first attempt");
    assert_eq!((&first["type"], &first["attempt"]), (&json!("slow.call"), &json!(1)));
    // The worker never answers; the long poll returns once the reaper has failed the attempt and it is due again.
    let second = worker.fetch("slow", 20_000, 300).await.expect("the timed-out step handed out again");
    assert_eq!((&second["job_id"], &second["attempt"]), (&first["job_id"], &json!(2)));
    let (status, stale) = worker.complete(&first, json!("too late")).await;
    assert_eq!((status, &stale["error"]["code"]), (StatusCode::CONFLICT, &json!("STALE_TOKEN")));
    assert_eq!(saga(&worker, &saga_id).await["current_step_index"], json!(0), "a retry does not move the saga");

    worker.complete(&second, json!("answered")).await;
    let after = worker.expect("slow", "slow.after").await;
    let advanced = saga(&worker, &saga_id).await;
    assert_eq!((&advanced["status"], &advanced["current_step_index"]), (&json!("running"), &json!(1)));
    let call = phase(&advanced, "call", "action");
    assert_eq!(
        (&call["state"], &call["attempts"], &call["output"]),
        (&json!("completed"), &json!(2), &json!("answered"))
    );
    assert!(call["errors"][0]["error"].as_str().is_some_and(|e| e.contains("timed out")), "{call}");
    worker.complete(&after, Value::Null).await;
    assert_eq!(saga(&worker, &saga_id).await["status"], json!("completed"));
}

/// A compensation job is retried by its step's `retry_policy` (there is no separate compensation policy).
#[tokio::test]
async fn a_compensation_that_fails_once_is_retried_by_its_steps_policy_and_the_saga_ends_compensated() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let saga_id = start(
        &worker,
        &json!({"name": "order", "steps": [
            {"name": "reserve", "service": "shop", "action": "reserve", "compensation": "release",
             "timeout_seconds": 30, "retry_policy": retry_once()},
            {"name": "charge", "service": "shop", "action": "charge", "timeout_seconds": 30},
        ]}),
    )
    .await;
    worker.complete(&worker.expect("shop", "shop.reserve").await, json!("r-1")).await;
    // No retries on the charge: one failure starts the compensation.
    worker.fail(&worker.expect("shop", "shop.charge").await, "card declined").await;

    let release = worker.expect("shop", "shop.release").await;
    assert_eq!((&release["attempt"], &release["max_attempts"]), (&json!(1), &json!(2)));
    assert_eq!(worker.fail(&release, "warehouse offline").await.0, StatusCode::OK);
    assert_eq!(saga(&worker, &saga_id).await["status"], json!("compensating"), "one failure is not the end");
    let retried = worker.expect("shop", "shop.release").await;
    assert_eq!((&retried["job_id"], &retried["attempt"]), (&release["job_id"], &json!(2)));
    worker.complete(&retried, json!("released")).await;

    let done = saga(&worker, &saga_id).await;
    assert_eq!(done["status"], json!("compensated"), "{done}");
    let undo = phase(&done, "reserve", "compensation");
    assert_eq!((&undo["state"], &undo["attempts"]), (&json!("completed"), &json!(2)));
    assert_eq!(undo["errors"][0]["error"], json!("warehouse offline"));
    assert!(done["failed_step"].is_null(), "{done}");
}
