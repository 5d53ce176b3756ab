//! The in-process shortcuts of the embedded engine, on a real SQLite file (and PostgreSQL where the test says
//! so): a start hands its run to an idle long poll of the same process, the poll answers with it, and a
//! claim that ends any other way leaves the poll and the run as they would be without the shortcut.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_conformance::harness::fresh_database;
use baton_core::clock::SystemClock;
use baton_core::job::service::FetchRequest;
use baton_core::job::{JobService, JobState, PollClaim};
use baton_core::namespace::Namespace;
use baton_core::store::Store;
use baton_core::workflow::{StartWorkflowParams, WorkflowOptions, WorkflowService};
use baton_core::{Limits, job::spec::JobSpec};
use baton_postgres::PgOptions;
use baton_sqlite::{SqliteOptions, SqliteStore};
use baton_workflow::{ExecutorOptions, Registry, StartOptions, WorkflowContext, Workflows};
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Engine {
    jobs: JobService,
    workflows: WorkflowService,
    _temp: tempfile::TempDir,
    _wakeups: tokio_util::sync::DropGuard,
}

async fn engine() -> Engine {
    let temp = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(SqliteOptions::new(temp.path().join("data")), Arc::new(SystemClock)).await.expect("open"),
    );
    let jobs = JobService::new(store.clone(), Limits::default());
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let (jobs, shutdown) = (jobs.clone(), shutdown.clone());
        async move { jobs.run_wakeups(shutdown).await }
    });
    Engine {
        jobs,
        workflows: WorkflowService::new(store, Limits::default()),
        _temp: temp,
        _wakeups: shutdown.drop_guard(),
    }
}

/// An embedded executor's long poll of the `workflows` queue for `order` runs.
fn poll(jobs: &JobService) -> JoinHandle<Vec<baton_core::job::Job>> {
    let jobs = jobs.clone();
    tokio::spawn(async move {
        let request = FetchRequest {
            queues: vec!["workflows".into()],
            worker_id: "executor".into(),
            max_jobs: Some(4),
            wait: Some(Duration::from_secs(20)),
            job_types: Some(vec!["order".into()]),
            in_process: true,
            ..FetchRequest::default()
        };
        jobs.fetch(request).await.expect("fetch").0
    })
}

/// The poll's claim, once it is idle.
async fn claim_when_idle(jobs: &JobService) -> PollClaim {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(claim) = jobs.claim_idle_poll(&Namespace::default(), "workflows", "order") {
            return claim;
        }
        assert!(Instant::now() < deadline, "the poll never became idle");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn start(workflow_id: &str) -> StartWorkflowParams {
    StartWorkflowParams {
        namespace: Namespace::default(),
        workflow_id: workflow_id.into(),
        name: "order".into(),
        input: Some(json!({"order": 1})),
        options: WorkflowOptions::default(),
        parent_id: None,
    }
}

#[tokio::test]
async fn a_start_hands_its_run_to_the_idle_poll_that_answers_with_it() {
    let engine = engine().await;
    let waiting = poll(&engine.jobs);
    let claim = claim_when_idle(&engine.jobs).await;
    assert!(
        engine.jobs.claim_idle_poll(&Namespace::default(), "workflows", "order").is_none(),
        "a claimed poll is claimed once"
    );
    let started = engine.workflows.start_taking(start("handed"), &claim).await.expect("start");
    claim.deliver(started.taken).expect("the poll still waits");
    let fetched = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("answered").expect("poll");
    let [run] = fetched.as_slice() else { panic!("the poll answers with the run, got {fetched:?}") };
    assert_eq!(Some(run.job_id), started.workflow.job_id);
    assert_eq!((run.state, run.worker_id.as_deref()), (JobState::Running, Some("executor")));
}

#[tokio::test]
async fn a_released_claim_leaves_the_poll_to_fetch_for_itself() {
    let engine = engine().await;
    let waiting = poll(&engine.jobs);
    drop(claim_when_idle(&engine.jobs).await);
    let spec = JobSpec { queue: "workflows".into(), job_type: "order".into(), ..JobSpec::default() };
    engine.jobs.enqueue(Namespace::default(), vec![spec]).await.expect("enqueue");
    let fetched = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("answered").expect("poll");
    assert_eq!(fetched.len(), 1, "the poll takes the job enqueued after the released claim");
}

#[tokio::test]
async fn a_poll_that_stops_while_claimed_gives_the_taken_run_back_to_its_claimer() {
    let engine = engine().await;
    let waiting = poll(&engine.jobs);
    let claim = claim_when_idle(&engine.jobs).await;
    waiting.abort();
    assert!(waiting.await.is_err_and(|error| error.is_cancelled()));
    let started = engine.workflows.start_taking(start("orphan"), &claim).await.expect("start");
    let taken = claim.deliver(started.taken).expect_err("nobody waits for the run any more");
    let [run] = taken.as_slice() else { panic!("the claimer gets the run back, got {taken:?}") };
    assert_eq!(Some(run.job_id), started.workflow.job_id, "it is the caller's to hand back to the queue");
}

fn counting() -> Registry {
    Registry::new().register("count", |mut ctx: WorkflowContext, start: u64| async move {
        let mut total = start;
        for step in ["one", "two", "three"] {
            total = ctx.step(step, move || async move { Ok::<_, String>(total + 1) }).await?;
        }
        Ok(total)
    })
}

/// Back-to-back workflows through one executor slot, as the sequential benchmark runs them: each is handed to
/// the idle executor, and each result reaches its caller from the executor's completion.
async fn sequential_workflows_complete_with_their_own_results(workflows: &Workflows) {
    let options = ExecutorOptions { concurrency: 1, ..ExecutorOptions::default() };
    let executor = workflows.executor(counting(), options).spawn();
    for start in 0..20_u64 {
        let handle = workflows.start("count", &start, StartOptions::default()).await.expect("start");
        let total: u64 = handle.result_within(Duration::from_secs(20)).await.expect("result");
        assert_eq!(total, start + 3);
        assert_eq!(handle.steps().await.expect("steps").len(), 3, "every step is checkpointed once");
    }
    executor.stop().await;
}

#[tokio::test]
async fn back_to_back_workflows_on_sqlite_complete_with_their_own_results() {
    let temp = tempfile::tempdir().expect("temp dir");
    let workflows = Workflows::sqlite(temp.path().join("data")).await.expect("open");
    sequential_workflows_complete_with_their_own_results(&workflows).await;
}

#[tokio::test]
async fn back_to_back_workflows_on_postgres_complete_with_their_own_results() {
    let Some(database) = fresh_database().await else { return };
    let workflows =
        Workflows::postgres(PgOptions { max_connections: 8, ..PgOptions::new(database.url.clone()) }).await.unwrap();
    sequential_workflows_complete_with_their_own_results(&workflows).await;
}

#[tokio::test]
async fn a_caller_hears_of_an_end_that_another_process_executed() {
    let Some(database) = fresh_database().await else { return };
    let open = || Workflows::postgres(PgOptions { max_connections: 4, ..PgOptions::new(database.url.clone()) });
    let (caller, worker) = (open().await.unwrap(), open().await.unwrap());
    let executor = worker.executor(counting(), ExecutorOptions::default()).spawn();
    let handle = caller.start("count", &10_u64, StartOptions::default()).await.expect("start");
    let total: u64 = handle.result_within(Duration::from_secs(20)).await.expect("result from the other process");
    assert_eq!(total, 13);
    executor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_caller_stops_waiting_still_hands_its_run_over() {
    let temp = tempfile::tempdir().expect("temp dir");
    let workflows = Workflows::sqlite(temp.path().join("data")).await.expect("open");
    // A lease far longer than the waits below: a stranded run would sit out its lease.
    let options = ExecutorOptions { concurrency: 1, lease: Duration::from_secs(120), ..ExecutorOptions::default() };
    let executor = workflows.executor(counting(), options).spawn();
    for n in 0..5_u64 {
        let workflow_id = format!("cut-{n}");
        let options = StartOptions { workflow_id: Some(workflow_id.clone()), ..StartOptions::default() };
        let start = workflows.start("count", &n, options);
        tokio::pin!(start);
        // Polled once, then dropped: the start has claimed the idle executor and sent its transaction, and its
        // caller is gone before the answer.
        tokio::select! {
            biased;
            _ = &mut start => panic!("a start does not finish in one poll"),
            () = std::future::ready(()) => {}
        }
        // Its transaction was sent, so it commits even though nobody waits for the answer.
        let deadline = Instant::now() + Duration::from_secs(10);
        let handle = loop {
            match workflows.handle(&workflow_id).await {
                Ok(handle) => break handle,
                Err(baton_workflow::WorkflowError::NotFound(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(error) => panic!("the cut-off start never committed: {error}"),
            }
        };
        let total: u64 = handle.result_within(Duration::from_secs(30)).await.expect("the run is not stranded");
        assert_eq!(total, n + 3);
    }
    executor.stop().await;
}
