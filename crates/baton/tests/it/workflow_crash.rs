//! The durable workflow crash sweep: a 3-step workflow running embedded in a worker process that is killed
//! (`kill -9`) at each boundary of each step, then started again, on SQLite and on PostgreSQL. After the
//! restart every completed step ran exactly once, only the interrupted step may have run twice, and the
//! workflow completes.
//!
//! The worker process is this test binary again, running [`crash_sweep_worker_process`]: it opens the
//! store, starts the workflow (a second start of the same id is the same workflow), runs an executor until
//! the workflow ends, and at its crash point writes a marker and hangs until the test kills it. Each step's
//! side effect is a line appended to a file, which outlives the process.
//!
//! The boundaries, for step `k`:
//! - **before the step**: steps before `k` are checkpointed, step `k`'s body has not begun;
//! - **after its side effect, before its checkpoint**: the line is written, the checkpoint is not;
//! - **after its checkpoint**: `ctx.step` returned.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baton_postgres::PgOptions;
use baton_workflow::{ExecutorOptions, Registry, StartOptions, WorkflowContext, WorkflowState, Workflows};
use serde::{Deserialize, Serialize};

use crate::server::temp_dir;

const STEPS: [&str; 3] = ["reserve", "charge", "ship"];
const WORKER_ENV: &str = "BATON_WORKFLOW_CRASH_WORKER";

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
enum Boundary {
    BeforeStep,
    AfterEffect,
    AfterCheckpoint,
}

/// What the worker process is told, as JSON in its environment.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct WorkerPlan {
    /// A data dir for SQLite, or a `postgres://` URL.
    store: String,
    workflow_id: String,
    effects: PathBuf,
    crash: Option<(usize, Boundary)>,
}

impl WorkerPlan {
    fn marker(&self) -> PathBuf {
        self.effects.with_extension("crashed")
    }
}

async fn open(store: &str) -> Workflows {
    if store.starts_with("postgres://") {
        return Workflows::postgres(PgOptions { max_connections: 4, ..PgOptions::new(store) })
            .await
            .expect("open PostgreSQL");
    }
    // The data dir's lock is free once the process that held it died, or its store closed.
    for _ in 0..250 {
        if let Ok(workflows) = Workflows::sqlite(store).await {
            return workflows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the SQLite data dir stayed locked")
}

/// Signals the test that the crash point is reached, then waits for the `kill -9`.
async fn hang_at_crash_point(plan: &WorkerPlan) -> ! {
    std::fs::write(plan.marker(), b"crashed").expect("write the marker");
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

fn sweep_workflow(plan: WorkerPlan) -> Registry {
    Registry::new().register("crash-sweep", move |mut ctx: WorkflowContext, (): ()| {
        let plan = plan.clone();
        async move {
            let crash_here = |k: usize, boundary: Boundary| plan.crash == Some((k, boundary));
            for (k, name) in STEPS.iter().enumerate() {
                if crash_here(k, Boundary::BeforeStep) {
                    hang_at_crash_point(&plan).await;
                }
                let step_plan = plan.clone();
                ctx.step(name, move || {
                    let plan = step_plan.clone();
                    async move {
                        use std::io::Write as _;
                        let mut effects = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&plan.effects)
                            .map_err(|e| e.to_string())?;
                        writeln!(effects, "{name}").map_err(|e| e.to_string())?;
                        if plan.crash == Some((k, Boundary::AfterEffect)) {
                            hang_at_crash_point(&plan).await;
                        }
                        Ok::<_, String>(format!("{name} done"))
                    }
                })
                .await?;
                if crash_here(k, Boundary::AfterCheckpoint) {
                    hang_at_crash_point(&plan).await;
                }
            }
            Ok("shipped")
        }
    })
}

/// The worker process's entry point (ignored in a normal run; the sweep starts it with its plan).
#[tokio::test]
#[ignore = "the crash sweep's worker process: started by the sweep, not on its own"]
async fn crash_sweep_worker_process() {
    let Ok(plan) = std::env::var(WORKER_ENV) else {
        eprintln!("{WORKER_ENV} is not set: nothing to do");
        return;
    };
    let plan: WorkerPlan = serde_json::from_str(&plan).expect("a worker plan");
    let workflows = open(&plan.store).await;
    let options = ExecutorOptions {
        lease: Duration::from_secs(1),
        poll: Duration::from_millis(20),
        ..ExecutorOptions::default()
    };
    let executor = workflows.executor(sweep_workflow(plan.clone()), options).spawn();
    let start = StartOptions { workflow_id: Some(plan.workflow_id.clone()), ..StartOptions::default() };
    let handle = workflows.start("crash-sweep", &(), start).await.expect("start");
    let output: String = handle.result_within(Duration::from_secs(60)).await.expect("the workflow completes");
    assert_eq!(output, "shipped");
    executor.stop().await;
}

fn spawn_worker(plan: &WorkerPlan) -> Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--ignored", "--exact", "workflow_crash::crash_sweep_worker_process", "--nocapture"])
        .env(WORKER_ENV, serde_json::to_string(plan).expect("plan"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the worker process")
}

/// Waits without blocking the runtime: a closed store's duties must get to finish and let go of the data dir.
async fn wait_for_file(path: &Path, worker: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if let Some(status) = worker.try_wait().expect("poll the worker") {
            panic!("the worker exited ({status}) before its crash point");
        }
        assert!(Instant::now() < deadline, "the worker never reached its crash point");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn effects(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// Runs every (step, boundary) crash on `store`, checking the promises after each restart.
async fn sweep(store: &str, scratch: &Path) {
    for crash_at in 0..STEPS.len() {
        for boundary in [Boundary::BeforeStep, Boundary::AfterEffect, Boundary::AfterCheckpoint] {
            let case = format!("{crash_at}-{boundary:?}");
            let plan = WorkerPlan {
                store: store.to_owned(),
                workflow_id: format!("sweep-{case}"),
                effects: scratch.join(format!("{case}.effects")),
                crash: Some((crash_at, boundary)),
            };
            let mut worker = spawn_worker(&plan);
            wait_for_file(&plan.marker(), &mut worker).await;
            worker.kill().expect("kill -9 the worker");
            worker.wait().expect("reap the worker");

            let restarted = WorkerPlan { crash: None, ..plan.clone() };
            let status = tokio::task::spawn_blocking(move || spawn_worker(&restarted).wait().expect("wait"))
                .await
                .expect("join");
            assert!(status.success(), "{case}: the restarted worker failed ({status})");

            let lines = effects(&plan.effects);
            for (k, name) in STEPS.iter().enumerate() {
                let ran = lines.iter().filter(|line| line == name).count();
                let expected = if k == crash_at && boundary == Boundary::AfterEffect { 2 } else { 1 };
                assert_eq!(ran, expected, "{case}: step {name} ran {ran} times ({lines:?})");
            }
            let workflows = open(store).await;
            let handle = workflows.handle(&plan.workflow_id).await.expect("the workflow");
            let status = handle.status().await.unwrap();
            assert_eq!(status.state, WorkflowState::Completed, "{case}");
            let steps = handle.steps().await.unwrap();
            let names: Vec<_> = steps.iter().map(|step| step.name.as_str()).collect();
            assert_eq!(names, STEPS, "{case}: one checkpoint per step");
        }
    }
}

#[tokio::test]
async fn a_killed_embedded_worker_resumes_its_workflow_without_rerunning_completed_steps_on_sqlite() {
    let temp = temp_dir();
    let data_dir = temp.path().join("data");
    sweep(data_dir.to_str().expect("utf-8 path"), temp.path()).await;
}

#[tokio::test]
async fn a_killed_embedded_worker_resumes_its_workflow_without_rerunning_completed_steps_on_postgres() {
    let Some(database) = baton_conformance::harness::fresh_database().await else { return };
    let temp = temp_dir();
    sweep(&database.url, temp.path()).await;
    database.remove().await;
}
