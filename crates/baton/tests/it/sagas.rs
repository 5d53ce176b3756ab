//! Declarative sagas over HTTP against a real server, with their steps performed by a worker written against the
//! plain REST API, plus the CLI and the bad input a client may send.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::rest_worker::RestWorker;
use crate::server::{BATON, Server, data_dir, eventually, temp_dir};

fn step(name: &str, service: &str) -> Value {
    json!({"name": name, "service": service, "action": format!("do_{name}"), "compensation": format!("undo_{name}"),
        "timeout_seconds": 30})
}

async fn start(worker: &RestWorker, body: Value) -> Value {
    let (status, saga) = worker.post("/api/v1/sagas", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{saga}");
    saga
}

async fn saga(worker: &RestWorker, saga_id: &Value) -> Value {
    let (status, saga) = worker.get(&format!("/api/v1/sagas/{}", saga_id.as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{saga}");
    saga
}

/// The saga's record of step `name` in `phase` (`action` or `compensation`).
pub(crate) fn phase<'a>(saga: &'a Value, name: &str, phase: &str) -> &'a Value {
    saga["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["name"] == json!(name) && step["phase"] == json!(phase))
        .unwrap_or_else(|| panic!("no {name} {phase} in {saga}"))
}

#[tokio::test]
async fn the_syros_saga_example_works_as_written() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/sagas", server.url))
        .header("Content-Type", "application/json")
        .body(
            r#"{
                "name": "order_processing",
                "steps": [
                    {"name": "reserve_inventory", "service": "inventory-service", "action": "reserve",
                     "compensation": "release", "timeout_seconds": 30},
                    {"name": "process_payment", "service": "payment-service", "action": "charge",
                     "compensation": "refund", "timeout_seconds": 60,
                     "retry_policy": {"max_retries": 3, "backoff_strategy": "exponential", "initial_delay_ms": 1000}}
                ],
                "metadata": {"order_id": "12345"}
            }"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let started: Value = response.json().await.unwrap();
    let saga_id = started["saga_id"].as_str().unwrap().to_owned();
    assert_eq!((&started["status"], &started["current_step_index"]), (&json!("running"), &json!(0)));

    let worker = RestWorker::new(&server.url);
    let status = worker.get(&format!("/api/v1/sagas/{saga_id}/status")).await.1;
    for field in ["saga_id", "name", "status", "current_step_index", "created_at", "updated_at", "metadata"] {
        assert!(status.get(field).is_some(), "the Syros status shape has {field}: {status}");
    }
    assert_eq!(status["metadata"], json!({"order_id": "12345"}));

    let reserve = worker.expect("inventory-service", "inventory-service.reserve").await;
    assert_eq!(reserve["payload"]["saga_id"], json!(saga_id));
    assert_eq!(worker.complete(&reserve, json!({"reservation": "r-1"})).await.0, StatusCode::OK);
    let charge = worker.expect("payment-service", "payment-service.charge").await;
    assert_eq!(charge["max_attempts"], json!(4), "max_retries 3 is four attempts");
    assert_eq!(charge["timeout_seconds"], json!(60));
    assert_eq!(charge["payload"]["outputs"], json!({"reserve_inventory": {"reservation": "r-1"}}));
    worker.complete(&charge, json!({"charge_id": "c-1"})).await;
    let done = saga(&worker, &json!(saga_id)).await;
    assert_eq!(done["status"], json!("completed"));
    assert_eq!(phase(&done, "process_payment", "action")["output"], json!({"charge_id": "c-1"}));
    assert!(done["finished_at"].as_str().is_some());
}

/// A REST worker performs every step; the third fails for good, so the two before it are compensated in
/// reverse, each compensation seeing the outputs of the actions it undoes.
#[tokio::test]
async fn a_failed_step_compensates_in_reverse_and_a_failed_compensation_says_which_step() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let body = json!({"name": "trip", "input": {"who": "ada"},
        "steps": [step("flight", "travel"), step("hotel", "travel"), step("car", "travel")]});
    let started = start(&worker, body.clone()).await;
    for name in ["flight", "hotel"] {
        let job = worker.expect("travel", &format!("travel.do_{name}")).await;
        assert_eq!(job["payload"]["input"], json!({"who": "ada"}));
        worker.complete(&job, json!(format!("{name}-booked"))).await;
    }
    let car = worker.expect("travel", "travel.do_car").await;
    assert_eq!(worker.fail(&car, "no cars left").await.0, StatusCode::OK);
    let mut undone = Vec::new();
    for _ in 0..2 {
        let job = worker.fetch("travel", 5_000, 30).await.expect("a compensation job");
        assert_eq!(job["payload"]["phase"], json!("compensation"));
        assert_eq!(job["payload"]["outputs"], json!({"flight": "flight-booked", "hotel": "hotel-booked"}));
        undone.push(job["type"].as_str().unwrap().to_owned());
        worker.complete(&job, Value::Null).await;
    }
    assert_eq!(undone, ["travel.undo_hotel", "travel.undo_flight"], "compensated in reverse order");
    let compensated = saga(&worker, &started["saga_id"]).await;
    assert_eq!(compensated["status"], json!("compensated"));
    let car_action = phase(&compensated, "car", "action");
    assert_eq!((&car_action["state"], &car_action["attempts"]), (&json!("failed"), &json!(1)));
    assert_eq!(car_action["errors"][0]["error"], json!("no cars left"));
    assert_eq!(phase(&compensated, "car", "compensation")["state"], json!("pending"), "a failed step is not undone");

    // Now a compensation that gives out: the saga needs a human, and names the step.
    let stuck =
        start(&worker, json!({"name": "trip", "steps": [step("flight", "travel"), step("hotel", "travel")]})).await;
    worker.complete(&worker.expect("travel", "travel.do_flight").await, json!("f")).await;
    worker.fail(&worker.expect("travel", "travel.do_hotel").await, "full").await;
    worker.fail(&worker.expect("travel", "travel.undo_flight").await, "airline down").await;
    let status = worker.get(&format!("/api/v1/sagas/{}/status", stuck["saga_id"].as_str().unwrap())).await.1;
    assert_eq!((&status["status"], &status["failed_step"]), (&json!("compensation_failed"), &json!("flight")));
    assert!(status["error"].as_str().is_some_and(|e| e.contains("compensation")), "{status}");
}

#[tokio::test]
async fn a_cancel_mid_saga_compensates_and_ends_cancelled() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let started =
        start(&worker, json!({"name": "order", "steps": [step("reserve", "shop"), step("charge", "shop")]})).await;
    let saga_id = started["saga_id"].as_str().unwrap();
    worker.complete(&worker.expect("shop", "shop.do_reserve").await, json!("r")).await;
    // The charge job waits: the cancel ends it at once and the reserve is undone.
    eventually("the charge job is enqueued", || async {
        worker.get(&format!("/api/v1/sagas/{saga_id}")).await.1["current_step_index"] == json!(1)
    })
    .await;
    let (status, cancelled) = worker.post(&format!("/api/v1/sagas/{saga_id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], json!("compensating"));
    assert_eq!(phase(&cancelled, "charge", "action")["state"], json!("cancelled"));
    worker.complete(&worker.expect("shop", "shop.undo_reserve").await, Value::Null).await;
    assert!(worker.fetch("shop", 0, 30).await.is_none(), "the cancelled charge is never handed out");
    let done = saga(&worker, &started["saga_id"]).await;
    assert_eq!((&done["status"], &done["cancel_requested"]), (&json!("cancelled"), &json!(true)));
    let (status, again) = worker.post(&format!("/api/v1/sagas/{saga_id}/cancel"), &json!({})).await;
    assert_eq!((status, &again["error"]["code"]), (StatusCode::CONFLICT, &json!("SAGA_FINISHED")));
}

#[tokio::test]
async fn an_idempotency_key_starts_one_saga_and_lists_filter_and_page() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let http = reqwest::Client::new();
    let body = json!({"name": "payout", "steps": [step("pay", "bank")]});
    let mut ids = Vec::new();
    for expected in [StatusCode::CREATED, StatusCode::OK] {
        let response = http
            .post(format!("{}/api/v1/sagas", server.url))
            .header("Idempotency-Key", "payout-77")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
        ids.push(response.json::<Value>().await.unwrap()["saga_id"].clone());
    }
    assert_eq!(ids[0], ids[1], "the repeat answers the first saga");
    let worker = RestWorker::new(&server.url);
    worker.complete(&worker.expect("bank", "bank.do_pay").await, json!(1)).await;
    assert!(worker.fetch("bank", 0, 30).await.is_none(), "one saga, one job");

    for _ in 0..3 {
        start(&worker, json!({"name": "other", "steps": [step("x", "elsewhere")]})).await;
    }
    let client = server.client();
    let filter = baton_client::ListSagas { name: Some("other".into()), limit: Some(2), ..Default::default() };
    let first = client.list_sagas(&filter).await.unwrap();
    assert_eq!(first.sagas.len(), 2);
    let rest = baton_client::ListSagas { cursor: first.next_cursor.clone(), ..filter };
    let second = client.list_sagas(&rest).await.unwrap();
    assert_eq!((second.sagas.len(), second.next_cursor.as_deref()), (1, None));
    assert!(first.sagas[0].created_at >= first.sagas[1].created_at, "newest first");
    let completed = baton_client::ListSagas { state: Some("completed".into()), ..Default::default() };
    let completed = client.list_sagas(&completed).await.unwrap().sagas;
    assert_eq!(completed.iter().map(|s| json!(s.saga_id)).collect::<Vec<_>>(), vec![ids[0].clone()]);
}

#[tokio::test]
async fn bad_sagas_are_refused_with_clear_codes() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let refused = |body: Value| {
        let worker = worker.clone();
        async move {
            let (status, answer) = worker.post("/api/v1/sagas", &body).await;
            (status.as_u16(), answer["error"]["code"].as_str().unwrap_or("?").to_owned(), answer)
        }
    };
    let (status, code, _) = refused(json!({"name": "s", "steps": []})).await;
    assert_eq!((status, code.as_str()), (422, "INVALID_ARGUMENT"));
    let (status, code, answer) = refused(json!({"name": "s", "steps": [step("a", "q"), step("a", "q")]})).await;
    assert_eq!((status, code.as_str()), (422, "INVALID_ARGUMENT"));
    assert!(answer["error"]["message"].as_str().unwrap().contains("'a'"), "{answer}");
    let negative = json!({"name": "s", "steps": [{"name": "a", "service": "q", "action": "x", "timeout_seconds": -5}]});
    assert_eq!(refused(negative).await.0, 422);
    let bad_backoff = json!({"name": "s", "steps": [{"name": "a", "service": "q", "action": "x", "timeout_seconds": 5,
        "retry_policy": {"max_retries": 1, "backoff_strategy": "sometimes"}}]});
    assert_eq!(refused(bad_backoff).await.0, 422);
    let unknown_field = json!({"name": "s", "steps": [step("a", "q")], "colour": "red"});
    assert_eq!(refused(unknown_field).await.0, 422);
    // Larger than a job payload may be, yet under the request body limit.
    let oversized = json!({"name": "s", "steps": [step("a", "q")], "input": "x".repeat(300 * 1024)});
    let (status, code, _) = refused(oversized).await;
    assert_eq!((status, code.as_str()), (422, "PAYLOAD_TOO_LARGE"));
    let (status, body) = worker.get("/api/v1/sagas/0190f3a4-0000-7000-8000-000000000000").await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::NOT_FOUND, &json!("SAGA_NOT_FOUND")));
    let (status, body) = worker.get("/api/v1/sagas/not-a-saga/status").await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::NOT_FOUND, &json!("SAGA_NOT_FOUND")));
    let (status, _) = worker.get("/api/v1/sagas?state=sleeping").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(worker.fetch("q", 0, 30).await.is_none(), "nothing refused left a job behind");
}

fn cli(server: &Server, args: &[&str]) -> Value {
    let output = Command::new(BATON).args(args).args(["--server", &server.url, "--json"]).output().unwrap();
    assert!(output.status.success(), "baton {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn the_cli_starts_shows_lists_and_cancels_sagas() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let file = temp.path().join("saga.json");
    std::fs::write(&file, json!({"name": "cli-saga", "steps": [step("one", "cli"), step("two", "cli")]}).to_string())
        .unwrap();
    let path = file.display().to_string();
    let started = cli(&server, &["saga", "start", &path, "--idempotency-key", "k1"]);
    let again = cli(&server, &["saga", "start", &path, "--idempotency-key", "k1"]);
    assert_eq!(started["saga_id"], again["saga_id"]);
    let saga_id = started["saga_id"].as_str().unwrap();
    assert_eq!(cli(&server, &["saga", "status", saga_id])["status"], json!("running"));
    assert_eq!(cli(&server, &["saga", "get", saga_id])["steps"].as_array().unwrap().len(), 4);
    let listed = cli(&server, &["saga", "list", "--name", "cli-saga"]);
    assert_eq!(listed["sagas"][0]["saga_id"], started["saga_id"]);
    let cancelled = cli(&server, &["saga", "cancel", saga_id]);
    assert_eq!(cancelled["status"], json!("cancelled"), "nothing had completed, so nothing to compensate");
    let output = Command::new(BATON).args(["saga", "get", "nope", "--server", &server.url]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SAGA_NOT_FOUND"));
}

/// Sixteen starts with one key, spread over two nodes at once: one saga, one step job, and no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_with_one_key_on_two_nodes_make_one_saga() {
    let Some(database) = baton_conformance::harness::fresh_database().await else {
        return;
    };
    let nodes = [Server::cluster(&database.url), Server::cluster(&database.url)];
    let http = reqwest::Client::new();
    let body = json!({"name": "once", "steps": [step("pay", "bank")]});
    let starts = (0..16).map(|i| {
        let request = http
            .post(format!("{}/api/v1/sagas", nodes[i % 2].url))
            .header("Idempotency-Key", "same-key")
            .json(&body)
            .send();
        async move {
            let response = request.await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    });
    let answers = futures::future::join_all(starts).await;
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(answers.iter().all(|(status, answer)| status.is_success() && answer["saga_id"] == answers[0].1["saga_id"]));
    let worker = RestWorker::new(&nodes[1].url);
    worker.expect("bank", "bank.do_pay").await;
    assert!(worker.fetch("bank", 0, 30).await.is_none(), "one saga, one job");
    drop(nodes);
    database.remove().await;
}
