//! The worker process of the durable-workflow crash sweep (`tests/crash_sweep.rs`), and a small example of an
//! embedded executor.
//!
//! It opens an embedded store (a SQLite data dir, or a `postgres://` URL), starts a 3-step workflow (a second
//! start of the same id is the same workflow), and runs an executor until that workflow ends. Each step's side
//! effect is a line appended to a file, which outlives the process. Told to crash at a step's boundary, it
//! writes a marker file there and hangs until the sweep kills it with `kill -9`.
//!
//! Environment: `BATON_CRASH_STORE`, `BATON_CRASH_WORKFLOW_ID`, `BATON_CRASH_EFFECTS` (the effects file; the
//! marker is beside it, `.crashed`), and optionally `BATON_CRASH_AT=<step>:<boundary>` with the boundary
//! `before-step`, `after-effect` (written, not checkpointed) or `after-checkpoint`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use baton_postgres::PgOptions;
use baton_workflow::{ExecutorOptions, Registry, StartOptions, WorkflowContext, Workflows};

const STEPS: [&str; 3] = ["reserve", "charge", "ship"];

#[derive(Clone)]
struct Plan {
    effects: PathBuf,
    crash_at: Option<(usize, String)>,
}

impl Plan {
    fn crashes_at(&self, step: usize, boundary: &str) -> bool {
        self.crash_at.as_ref().is_some_and(|(at, at_boundary)| *at == step && at_boundary == boundary)
    }

    /// Signals the sweep that the crash point is reached, then waits for the `kill -9`.
    async fn hang(&self) -> ! {
        std::fs::write(self.effects.with_extension("crashed"), b"crashed").expect("write the marker");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

async fn open(store: &str) -> Workflows {
    if store.starts_with("postgres://") {
        let options = PgOptions { max_connections: 4, ..PgOptions::new(store) };
        return Workflows::postgres(options).await.expect("open PostgreSQL");
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

fn sweep_workflow(plan: Plan) -> Registry {
    Registry::new().register("crash-sweep", move |mut ctx: WorkflowContext, (): ()| {
        let plan = plan.clone();
        async move {
            for (k, name) in STEPS.iter().enumerate() {
                if plan.crashes_at(k, "before-step") {
                    plan.hang().await;
                }
                let step_plan = plan.clone();
                ctx.step(name, move || {
                    let plan = step_plan.clone();
                    async move {
                        let mut effects = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&plan.effects)
                            .map_err(|e| e.to_string())?;
                        writeln!(effects, "{name}").map_err(|e| e.to_string())?;
                        if plan.crashes_at(k, "after-effect") {
                            plan.hang().await;
                        }
                        Ok::<_, String>(format!("{name} done"))
                    }
                })
                .await?;
                if plan.crashes_at(k, "after-checkpoint") {
                    plan.hang().await;
                }
            }
            Ok("shipped")
        }
    })
}

#[tokio::main]
async fn main() {
    let crash_at = std::env::var("BATON_CRASH_AT").ok().map(|at| {
        let (step, boundary) = at.split_once(':').expect("BATON_CRASH_AT is <step>:<boundary>");
        (step.parse().expect("a step number"), boundary.to_owned())
    });
    let plan = Plan { effects: env("BATON_CRASH_EFFECTS").into(), crash_at };
    let workflows = open(&env("BATON_CRASH_STORE")).await;
    // A short lease, so the run of a killed worker is taken again quickly.
    let options = ExecutorOptions {
        lease: Duration::from_secs(1),
        poll: Duration::from_millis(20),
        ..ExecutorOptions::default()
    };
    let executor = workflows.executor(sweep_workflow(plan), options).spawn();
    let start = StartOptions { workflow_id: Some(env("BATON_CRASH_WORKFLOW_ID")), ..StartOptions::default() };
    let handle = workflows.start("crash-sweep", &(), start).await.expect("start");
    let output: String = handle.result_within(Duration::from_secs(60)).await.expect("the workflow completes");
    assert_eq!(output, "shipped");
    executor.stop().await;
}
