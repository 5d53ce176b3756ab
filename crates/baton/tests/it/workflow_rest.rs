//! Durable workflows for callers that are not Rust: the REST API and the CLI, against a real server with a
//! `baton-workflow` executor running the code; and the bad input a client may send.

use std::process::Command;
use std::time::Duration;

use baton_workflow::{Registry, WorkflowContext, Workflows};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::rest_worker::RestWorker;
use crate::server::{BATON, Server, data_dir, eventually, temp_dir};
use crate::workflow_modes::executor_options;

fn cli(server: &Server, args: &[&str]) -> Value {
    let output = Command::new(BATON).args(args).args(["--server", &server.url, "--json"]).output().unwrap();
    assert!(output.status.success(), "baton {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Two steps, then waits for a message on `go`, and returns the step outputs and the message.
fn gated() -> Registry {
    Registry::new().register("gated", |mut ctx: WorkflowContext, input: Value| async move {
        let first: i64 = ctx.step("first", || async { Ok::<_, String>(1) }).await?;
        let second: i64 = ctx.step("second", || async { Ok::<_, String>(2) }).await?;
        ctx.set_event("progress", &"waiting").await?;
        let message: Option<Value> = ctx.recv("go", Duration::from_secs(30)).await?;
        Ok(json!({"input": input, "steps": [first, second], "message": message}))
    })
}

async fn state_of(worker: &RestWorker, workflow_id: &str) -> Value {
    let (status, body) = worker.get(&format!("/api/v1/workflows/{workflow_id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn the_rest_api_and_the_cli_manage_workflows_run_by_an_executor() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let executor = Workflows::remote(server.client()).executor(gated(), executor_options()).spawn();
    let worker = RestWorker::new(&server.url);

    let started = cli(&server, &["workflow", "start", "gated", "--id", "wf-1", "--input", r#"{"order": 7}"#]);
    assert_eq!((started["workflow_id"].clone(), started["created"].clone()), (json!("wf-1"), json!(true)));
    let again = cli(&server, &["workflow", "start", "gated", "--id", "wf-1"]);
    assert_eq!(again["created"], json!(false));
    eventually("the workflow waits for its message", || async {
        worker.get("/api/v1/workflows/wf-1/events/progress").await.1["set"] == json!(true)
    })
    .await;
    let (status, event) = worker.get("/api/v1/workflows/wf-1/events/progress").await;
    assert_eq!((status, event["value"].clone()), (StatusCode::OK, json!("waiting")));
    let (_, unset) = worker.get("/api/v1/workflows/wf-1/events/never").await;
    assert_eq!((unset["set"].clone(), unset.get("value")), (json!(false), None));

    let (status, _) = worker.post("/api/v1/workflows/wf-1/messages", &json!({"topic": "go", "message": "now"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually("wf-1 completes", || async { state_of(&worker, "wf-1").await["state"] == json!("completed") }).await;
    let shown = cli(&server, &["workflow", "get", "wf-1"]);
    assert_eq!(shown["output"], json!({"input": {"order": 7}, "steps": [1, 2], "message": "now"}));
    let kinds: Vec<_> = shown["steps"].as_array().unwrap().iter().map(|step| step["kind"].clone()).collect();
    assert_eq!(kinds, [json!("step"), json!("step"), json!("set_event"), json!("recv")]);

    // A fork from step 2 reruns from the event on, so it waits for its own message.
    let forked = cli(&server, &["workflow", "fork", "wf-1", "--from-step", "2", "--id", "wf-2"]);
    assert_eq!(forked["workflow_id"], json!("wf-2"));
    eventually("wf-2 waits", || async {
        worker.get("/api/v1/workflows/wf-2/events/progress").await.1["set"] == json!(true)
    })
    .await;
    let cancelled = cli(&server, &["workflow", "cancel", "wf-2"]);
    assert_eq!(cancelled["cancel_requested"], json!(true));
    eventually("wf-2 is cancelled", || async { state_of(&worker, "wf-2").await["state"] == json!("cancelled") }).await;
    let resumed = cli(&server, &["workflow", "resume", "wf-2"]);
    assert_eq!(resumed["state"], json!("running"));
    cli(&server, &["workflow", "send", "wf-2", "go", r#""later""#]);
    eventually("wf-2 completes", || async { state_of(&worker, "wf-2").await["state"] == json!("completed") }).await;
    let wf2 = state_of(&worker, "wf-2").await;
    assert_eq!(wf2["output"]["message"], json!("later"));
    assert_eq!(wf2["steps"][0], shown["steps"][0], "the fork reused checkpoint 0");

    let listed = cli(&server, &["workflow", "list", "--state", "completed", "--limit", "1"]);
    assert_eq!(listed["workflows"][0]["workflow_id"], json!("wf-2"), "newest first");
    assert!(listed["next_cursor"].is_string());
    let cursor = listed["next_cursor"].as_str().unwrap();
    let next = cli(&server, &["workflow", "list", "--state", "completed", "--cursor", cursor]);
    assert_eq!(next["workflows"][0]["workflow_id"], json!("wf-1"));
    let output = Command::new(BATON).args(["workflow", "get", "nope", "--server", &server.url]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("WORKFLOW_NOT_FOUND"));
    executor.stop().await;
}

#[tokio::test]
async fn bad_workflow_requests_get_clear_errors_and_change_nothing() {
    let temp = temp_dir();
    let server = Server::embedded(&data_dir(&temp));
    let worker = RestWorker::new(&server.url);
    let refused = |body: Value| {
        let worker = &worker;
        async move {
            let (status, answer) = worker.post("/api/v1/workflows", &body).await;
            (status.as_u16(), answer["error"]["code"].as_str().unwrap_or_default().to_owned())
        }
    };
    assert_eq!(refused(json!({"name": ""})).await, (422, "INVALID_ARGUMENT".into()));
    assert_eq!(refused(json!({"name": "w", "timeout_seconds": -1})).await, (422, "INVALID_ARGUMENT".into()));
    assert_eq!(refused(json!({"name": "w", "priority": 5000})).await, (422, "INVALID_ARGUMENT".into()));
    assert_eq!(refused(json!({"name": "w", "workflow_id": "x".repeat(10_000)})).await.0, 422);
    assert_eq!(refused(json!({"name": "w", "colour": "red"})).await.0, 422);
    let oversized = json!({"name": "w", "input": "x".repeat(300 * 1024)});
    assert_eq!(refused(oversized).await, (422, "PAYLOAD_TOO_LARGE".into()));

    let (status, body) = worker.get("/api/v1/workflows/missing").await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("WORKFLOW_NOT_FOUND")));
    let (status, _) = worker.post("/api/v1/workflows/missing/messages", &json!({"topic": "t", "message": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = worker.get("/api/v1/workflows?state=sleeping").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Sagas and workflows share one id space: a saga's id is refused as a new workflow's (a 500 before).
    let saga_steps =
        json!([{"name": "s", "service": "svc", "action": "do", "compensation": "undo", "timeout_seconds": 30}]);
    let (status, saga) = worker.post("/api/v1/sagas", &json!({"name": "trip", "steps": saga_steps})).await;
    assert_eq!(status, StatusCode::CREATED, "{saga}");
    let saga_id = saga["saga_id"].as_str().unwrap();
    let (status, body) = worker.post("/api/v1/workflows", &json!({"name": "w", "workflow_id": saga_id})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("WORKFLOW_EXISTS")), "{body}");

    let (status, started) = worker.post("/api/v1/workflows", &json!({"name": "w", "workflow_id": "only"})).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let (status, body) =
        worker.post("/api/v1/workflows/only/fork", &json!({"from_step": 0, "workflow_id": "only"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        worker.post("/api/v1/workflows/only/fork", &json!({"from_step": 0, "workflow_id": saga_id})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("WORKFLOW_EXISTS")), "{body}");
    // A checkpoint needs the run's lease: a made-up token is refused, and so is an unknown kind.
    let job_id = started["job_id"].as_str().unwrap();
    let step = json!({"job_id": job_id, "lease_token": 99, "name": "s"});
    let http = reqwest::Client::new();
    let put = |body: Value| http.put(format!("{}/api/v1/workflows/only/steps/0", server.url)).json(&body).send();
    let answer = put(step.clone()).await.unwrap();
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let mut bad_kind = step.clone();
    bad_kind["kind"] = json!("teleport");
    assert_eq!(put(bad_kind).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let not_an_index = http.put(format!("{}/api/v1/workflows/only/steps/abc", server.url)).json(&step).send();
    let answer: Value = not_an_index.await.unwrap().json().await.unwrap();
    assert_eq!(answer["error"]["code"], "INVALID_ARGUMENT", "a step index that is not a number: {answer}");
    let (status, _) = worker
        .post(
            "/api/v1/workflows/only/steps/0/recv",
            &json!({"job_id": "nope", "lease_token": 1, "name": "r", "topic": "t"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A wait at a step index past the most a workflow records is refused, as a step there is.
    let recv = json!({"job_id": job_id, "lease_token": 99, "name": "r", "topic": "t"});
    let (status, body) = worker.post("/api/v1/workflows/only/steps/18446744073709551615/recv", &recv).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("BATCH_TOO_LARGE")));
    assert!(state_of(&worker, "only").await["steps"].as_array().unwrap().is_empty(), "nothing was recorded");
}
