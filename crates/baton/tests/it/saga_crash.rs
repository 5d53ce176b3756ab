//! The saga crash sweep: a 3-step saga whose server is killed (`kill -9`) at each boundary of each step, then
//! restarted, on both backends. After the restart every completed step ran exactly once, only the interrupted
//! step may have run twice, and the saga completes.
//!
//! The boundaries, for step `k`:
//! - **before the step**: its job is enqueued (in the transaction that completed step `k-1`, or that started
//!   the saga) and no worker has taken it;
//! - **after its side effect, before its checkpoint**: the worker took the job and performed the effect, then
//!   the server and the worker both died before the completion was recorded; the job's lease runs out and the
//!   step runs again;
//! - **after its checkpoint**: the completion was answered, then the server died.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::rest_worker::RestWorker;
use crate::server::{Server, data_dir, temp_dir};

const STEPS: [&str; 3] = ["reserve", "charge", "ship"];
/// Short, so a job whose worker died is handed out again quickly.
const LEASE_SECONDS: u64 = 2;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Boundary {
    BeforeStep,
    AfterEffect,
    AfterCheckpoint,
}

fn saga_body() -> Value {
    let steps: Vec<Value> = STEPS
        .iter()
        .map(|name| {
            json!({"name": name, "service": "crash", "action": name, "compensation": format!("undo_{name}"),
                "timeout_seconds": 30,
                "retry_policy": {"max_retries": 3, "backoff_strategy": "fixed", "initial_delay_ms": 0}})
        })
        .collect();
    json!({"name": "crash-sweep", "steps": steps})
}

/// Runs the saga once, killing the server at `boundary` of step `crash_at`; answers how often each step's side
/// effect ran.
async fn run_once(server: &mut Server, crash_at: usize, boundary: Boundary) -> BTreeMap<String, u32> {
    let mut worker = RestWorker::new(&server.url);
    let (status, started) = worker.post("/api/v1/sagas", &saga_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let saga_id = started["saga_id"].as_str().unwrap().to_owned();
    let mut effects: BTreeMap<String, u32> = BTreeMap::new();
    let crash = |server: &mut Server, worker: &mut RestWorker| {
        server.restart();
        *worker = RestWorker::new(&server.url);
    };
    for (index, name) in STEPS.iter().enumerate() {
        let here = index == crash_at;
        if here && boundary == Boundary::BeforeStep {
            crash(server, &mut worker);
        }
        let job = next_job(&worker, name).await;
        *effects.entry((*name).to_owned()).or_default() += 1;
        let job = if here && boundary == Boundary::AfterEffect {
            crash(server, &mut worker);
            // The worker died too: its lease runs out and the step is handed out again.
            let again = next_job(&worker, name).await;
            assert_eq!(again["job_id"], job["job_id"], "the same step job, retried");
            *effects.entry((*name).to_owned()).or_default() += 1;
            again
        } else {
            job
        };
        let (status, answer) = worker.complete(&job, json!({"done": name})).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        if here && boundary == Boundary::AfterCheckpoint {
            crash(server, &mut worker);
        }
    }
    let (_, saga) = worker.get(&format!("/api/v1/sagas/{saga_id}")).await;
    assert_eq!(saga["status"], json!("completed"), "crash at {boundary:?} of step {crash_at}: {saga}");
    assert!(worker.fetch("crash", 0, LEASE_SECONDS).await.is_none(), "no compensation ran, no step is left");
    effects
}

async fn next_job(worker: &RestWorker, name: &str) -> Value {
    let job = worker.fetch("crash", 15_000, LEASE_SECONDS).await.unwrap_or_else(|| panic!("no {name} job"));
    assert_eq!(job["type"], json!(format!("crash.{name}")), "{job}");
    job
}

fn check(effects: &BTreeMap<String, u32>, crash_at: usize, boundary: Boundary) {
    for (index, name) in STEPS.iter().enumerate() {
        let expected = if index == crash_at && boundary == Boundary::AfterEffect { 2 } else { 1 };
        assert_eq!(effects[*name], expected, "step {name}, crash at {boundary:?} of step {crash_at}: {effects:?}");
    }
}

async fn sweep_embedded(boundary: Boundary) {
    for crash_at in 0..STEPS.len() {
        let temp = temp_dir();
        let mut server = Server::embedded(&data_dir(&temp));
        let effects = run_once(&mut server, crash_at, boundary).await;
        check(&effects, crash_at, boundary);
    }
}

async fn sweep_cluster(boundary: Boundary) {
    for crash_at in 0..STEPS.len() {
        let Some(database) = baton_conformance::harness::fresh_database().await else {
            return;
        };
        let mut server = Server::cluster(&database.url);
        let effects = run_once(&mut server, crash_at, boundary).await;
        check(&effects, crash_at, boundary);
        drop(server);
        database.remove().await;
    }
}

#[tokio::test]
async fn embedded_kill_before_each_step() {
    sweep_embedded(Boundary::BeforeStep).await;
}

#[tokio::test]
async fn embedded_kill_after_each_side_effect_before_its_checkpoint() {
    sweep_embedded(Boundary::AfterEffect).await;
}

#[tokio::test]
async fn embedded_kill_after_each_checkpoint() {
    sweep_embedded(Boundary::AfterCheckpoint).await;
}

#[tokio::test]
async fn cluster_kill_before_each_step() {
    sweep_cluster(Boundary::BeforeStep).await;
}

#[tokio::test]
async fn cluster_kill_after_each_side_effect_before_its_checkpoint() {
    sweep_cluster(Boundary::AfterEffect).await;
}

#[tokio::test]
async fn cluster_kill_after_each_checkpoint() {
    sweep_cluster(Boundary::AfterCheckpoint).await;
}
