//! The durable workflow crash sweep: a 3-step workflow running embedded in a worker process that is killed
//! (`kill -9`) at each boundary of each step, then started again, on SQLite and on PostgreSQL. After the
//! restart every completed step ran exactly once, only the interrupted step may have run twice, and the
//! workflow completes.
//!
//! The worker process is this crate's `workflow_crash_worker` binary (`src/bin/workflow_crash_worker.rs`): it runs the workflow embedded, appends a line per step's side effect to a file, and at its
//! crash point writes a marker and hangs until this test kills it.
//!
//! The boundaries, for step `k`:
//! - **before the step**: steps before `k` are checkpointed, step `k`'s body has not begun;
//! - **after its side effect, before its checkpoint**: the line is written, the checkpoint is not;
//! - **after its checkpoint**: `ctx.step` returned.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_postgres::PgOptions;
use baton_workflow::{WorkflowState, Workflows};

const STEPS: [&str; 3] = ["reserve", "charge", "ship"];
const BOUNDARIES: [&str; 3] = ["before-step", "after-effect", "after-checkpoint"];

const WORKER: &str = env!("CARGO_BIN_EXE_workflow_crash_worker");

struct Case {
    store: String,
    workflow_id: String,
    effects: PathBuf,
}

impl Case {
    fn spawn_worker(&self, crash_at: Option<&str>) -> Child {
        let mut command = Command::new(WORKER);
        command
            .env("BATON_CRASH_STORE", &self.store)
            .env("BATON_CRASH_WORKFLOW_ID", &self.workflow_id)
            .env("BATON_CRASH_EFFECTS", &self.effects)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(at) = crash_at {
            command.env("BATON_CRASH_AT", at);
        }
        command.spawn().expect("spawn the worker process")
    }

    /// Waits without blocking the runtime: a closed store's duties must get to finish and let go of the data
    /// dir.
    async fn wait_for_crash_point(&self, worker: &mut Child) {
        let marker = self.effects.with_extension("crashed");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !marker.exists() {
            if let Some(status) = worker.try_wait().expect("poll the worker") {
                panic!("the worker exited ({status}) before its crash point");
            }
            assert!(Instant::now() < deadline, "the worker never reached its crash point");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn effects(&self) -> Vec<String> {
        std::fs::read_to_string(&self.effects).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

async fn open(store: &str) -> Workflows {
    if store.starts_with("postgres://") {
        return Workflows::postgres(PgOptions { max_connections: 4, ..PgOptions::new(store) })
            .await
            .expect("open PostgreSQL");
    }
    Workflows::sqlite(store).await.expect("open SQLite: the workers are gone")
}

/// Runs every (step, boundary) crash on `store`, checking the promises after each restart.
async fn sweep(store: &str, scratch: &Path) {
    for crash_at in 0..STEPS.len() {
        for boundary in BOUNDARIES {
            let at = format!("{crash_at}:{boundary}");
            let case = Case {
                store: store.to_owned(),
                workflow_id: format!("sweep-{crash_at}-{boundary}"),
                effects: scratch.join(format!("{crash_at}-{boundary}.effects")),
            };
            let mut worker = case.spawn_worker(Some(&at));
            case.wait_for_crash_point(&mut worker).await;
            worker.kill().expect("kill -9 the worker");
            worker.wait().expect("reap the worker");

            let mut restarted = case.spawn_worker(None);
            let status = tokio::task::spawn_blocking(move || restarted.wait().expect("wait")).await.expect("join");
            assert!(status.success(), "{at}: the restarted worker failed ({status})");

            let lines = case.effects();
            for (k, name) in STEPS.iter().enumerate() {
                let ran = lines.iter().filter(|line| line == name).count();
                let expected = if k == crash_at && boundary == "after-effect" { 2 } else { 1 };
                assert_eq!(ran, expected, "{at}: step {name} ran {ran} times ({lines:?})");
            }
            let workflows = open(store).await;
            let handle = workflows.handle(&case.workflow_id).await.expect("the workflow");
            assert_eq!(handle.status().await.unwrap().state, WorkflowState::Completed, "{at}");
            let steps = handle.steps().await.unwrap();
            let names: Vec<_> = steps.iter().map(|step| step.name.as_str()).collect();
            assert_eq!(names, STEPS, "{at}: one checkpoint per step");
        }
    }
}

#[tokio::test]
async fn a_killed_embedded_worker_resumes_its_workflow_without_rerunning_completed_steps_on_sqlite() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path().join("data");
    sweep(data_dir.to_str().expect("utf-8 path"), temp.path()).await;
}

#[tokio::test]
async fn a_killed_embedded_worker_resumes_its_workflow_without_rerunning_completed_steps_on_postgres() {
    let Some(database) = baton_conformance::harness::fresh_database().await else { return };
    let temp = tempfile::tempdir().expect("temp dir");
    sweep(&database.url, temp.path()).await;
    database.remove().await;
}
