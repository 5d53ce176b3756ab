//! How a workflow's start options and the listing reach the engine through the SDK, embedded on a real SQLite
//! file and on PostgreSQL: a custom `queue` is served only by an executor of that queue, a higher `priority`
//! runs first, a `timeout` cancels the workflow at its next checkpoint, and `list` filters by state and name
//! and pages through every workflow exactly once.
//!
//! Each check is written once over [`Workflows`] and run on both stores. Waits are bounded; nothing asserts a
//! duration.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_conformance::harness::{TestDatabase, fresh_database};
use baton_postgres::PgOptions;
use baton_workflow::{
    ExecutorOptions, ListFilter, Registry, StartOptions, WorkflowContext, WorkflowError, WorkflowRecord, WorkflowState,
    Workflows,
};

/// Long enough for any run on a slow machine; only a broken product waits this long.
const RESULT_WAIT: Duration = Duration::from_secs(30);

async fn open_sqlite() -> (Workflows, tempfile::TempDir) {
    let temp = tempfile::tempdir().expect("temp dir");
    let workflows = Workflows::sqlite(temp.path().join("data")).await.expect("open SQLite");
    (workflows, temp)
}

/// `None` when PostgreSQL is unreachable outside CI (the harness fails the test in CI).
async fn open_postgres() -> Option<(Workflows, TestDatabase)> {
    let database = fresh_database().await?;
    let options = PgOptions { max_connections: 8, ..PgOptions::new(database.url.clone()) };
    let workflows = Workflows::postgres(options).await.expect("open PostgreSQL");
    Some((workflows, database))
}

fn start_with_id(workflow_id: &str) -> StartOptions {
    StartOptions { workflow_id: Some(workflow_id.into()), ..StartOptions::default() }
}

/// A workflow `tag` whose output says which executor ran it.
fn tagging(executor: &'static str) -> Registry {
    Registry::new().register("tag", move |mut ctx: WorkflowContext, input: String| async move {
        ctx.step("tag", || async { Ok::<_, String>(format!("{executor}:{input}")) }).await
    })
}

async fn a_custom_queue_is_served_only_by_an_executor_of_that_queue(workflows: &Workflows) {
    let default_executor = workflows.executor(tagging("default"), ExecutorOptions::default()).spawn();
    let reports = StartOptions { queue: Some("reports".into()), ..start_with_id("on-reports") };
    let on_reports = workflows.start("tag", &"r", reports).await.expect("start on reports");
    assert_eq!(on_reports.status().await.unwrap().options.queue, "reports");

    // Two default-queue workflows, one after the other: the second is taken by a fetch that began after the
    // first was taken, so after the custom-queue workflow was stored. The default executor had its chance.
    for control in ["c1", "c2"] {
        let handle = workflows.start("tag", &control, StartOptions::default()).await.expect("start control");
        let output: String = handle.result_within(RESULT_WAIT).await.expect("the default executor runs its queue");
        assert_eq!(output, format!("default:{control}"));
    }
    let waiting = on_reports.status().await.unwrap();
    assert_eq!(waiting.state, WorkflowState::Running, "the default-queue executor left it alone: {waiting:?}");
    assert!(on_reports.steps().await.unwrap().is_empty(), "no run of it began");

    let reports_options = ExecutorOptions { queue: "reports".into(), ..ExecutorOptions::default() };
    let reports_executor = workflows.executor(tagging("reports"), reports_options).spawn();
    let output: String = on_reports.result_within(RESULT_WAIT).await.expect("the reports executor runs it");
    assert_eq!(output, "reports:r", "the executor of its queue ran it");

    reports_executor.stop().await;
    default_executor.stop().await;
}

#[tokio::test]
async fn a_custom_queue_is_served_only_by_an_executor_of_that_queue_on_sqlite() {
    let (workflows, _temp) = open_sqlite().await;
    a_custom_queue_is_served_only_by_an_executor_of_that_queue(&workflows).await;
}

#[tokio::test]
async fn a_custom_queue_is_served_only_by_an_executor_of_that_queue_on_postgres() {
    let Some((workflows, database)) = open_postgres().await else { return };
    a_custom_queue_is_served_only_by_an_executor_of_that_queue(&workflows).await;
    drop(workflows);
    database.remove().await;
}

async fn higher_priority_workflows_begin_first(workflows: &Workflows) {
    // Started oldest-first in the reverse of their priority, so first-in-first-out would give the opposite
    // order. The job engine takes the highest priority first (`ORDER BY priority DESC`).
    for (input, priority) in [("low", Some(-5)), ("normal", None), ("high", Some(5))] {
        let options = StartOptions { priority, ..start_with_id(input) };
        workflows.start("record", &input, options).await.expect("start");
    }

    let began = Arc::new(Mutex::new(Vec::<String>::new()));
    let registry = Registry::new().register("record", {
        let began = began.clone();
        move |mut ctx: WorkflowContext, input: String| {
            let began = began.clone();
            async move {
                ctx.step("begin", || async {
                    began.lock().unwrap().push(input.clone());
                    Ok::<_, String>(())
                })
                .await
            }
        }
    });
    // One slot: each fetch takes one run, the best waiting one.
    let options = ExecutorOptions { concurrency: 1, ..ExecutorOptions::default() };
    let executor = workflows.executor(registry, options).spawn();
    for input in ["low", "normal", "high"] {
        let handle = workflows.handle(input).await.expect("handle");
        handle.result_within::<()>(RESULT_WAIT).await.expect("it completes");
    }
    executor.stop().await;

    assert_eq!(*began.lock().unwrap(), ["high", "normal", "low"]);
}

#[tokio::test]
async fn higher_priority_workflows_begin_first_on_sqlite() {
    let (workflows, _temp) = open_sqlite().await;
    higher_priority_workflows_begin_first(&workflows).await;
}

#[tokio::test]
async fn higher_priority_workflows_begin_first_on_postgres() {
    let Some((workflows, database)) = open_postgres().await else { return };
    higher_priority_workflows_begin_first(&workflows).await;
    drop(workflows);
    database.remove().await;
}

async fn a_workflow_past_its_timeout_ends_cancelled_at_its_next_checkpoint(workflows: &Workflows) {
    let registry = Registry::new().register("slow", |mut ctx: WorkflowContext, (): ()| async move {
        ctx.step("slow", || async {
            // Sleeps past the timeout: the checkpoint after it is necessarily late.
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, String>(())
        })
        .await
    });
    let executor = workflows.executor(registry, ExecutorOptions::default()).spawn();
    let options = StartOptions { timeout: Some(Duration::from_millis(300)), ..start_with_id("slow") };
    let handle = workflows.start("slow", &(), options).await.expect("start");

    let outcome = handle.result_within::<()>(RESULT_WAIT).await;
    assert!(matches!(outcome, Err(WorkflowError::Cancelled)), "a timeout ends it cancelled, got {outcome:?}");
    let ended = handle.status().await.unwrap();
    assert_eq!(ended.state, WorkflowState::Cancelled);
    assert_eq!(ended.error.as_deref(), Some("timed out after 300 ms"));
    assert!(handle.steps().await.unwrap().is_empty(), "the late checkpoint was refused");
    executor.stop().await;
}

#[tokio::test]
async fn a_workflow_past_its_timeout_ends_cancelled_at_its_next_checkpoint_on_sqlite() {
    let (workflows, _temp) = open_sqlite().await;
    a_workflow_past_its_timeout_ends_cancelled_at_its_next_checkpoint(&workflows).await;
}

#[tokio::test]
async fn a_workflow_past_its_timeout_ends_cancelled_at_its_next_checkpoint_on_postgres() {
    let Some((workflows, database)) = open_postgres().await else { return };
    a_workflow_past_its_timeout_ends_cancelled_at_its_next_checkpoint(&workflows).await;
    drop(workflows);
    database.remove().await;
}

/// The ids of one listing, sorted, so a comparison does not depend on the listing's order.
async fn listed(workflows: &Workflows, filter: ListFilter) -> Vec<String> {
    let page = workflows.list(filter).await.expect("list");
    assert_eq!(page.next_cursor, None, "every match fits one default page");
    let mut ids: Vec<String> = page.workflows.into_iter().map(|workflow| workflow.workflow_id).collect();
    ids.sort();
    ids
}

async fn list_filters_by_state_and_name_and_pages_through_every_workflow_once(workflows: &Workflows) {
    // Three completed `greet` workflows; `hold` has no executor, so two stay running and one is cancelled.
    let registry = Registry::new()
        .register("greet", |_ctx: WorkflowContext, name: String| async move { Ok(format!("hi {name}")) });
    let executor = workflows.executor(registry, ExecutorOptions::default()).spawn();
    for id in ["greet-1", "greet-2", "greet-3"] {
        let handle = workflows.start("greet", &id, start_with_id(id)).await.expect("start greet");
        handle.result_within::<String>(RESULT_WAIT).await.expect("greet completes");
    }
    executor.stop().await;
    for id in ["hold-1", "hold-2", "hold-3"] {
        workflows.start("hold", &id, start_with_id(id)).await.expect("start hold");
    }
    assert_eq!(workflows.cancel("hold-3").await.expect("cancel").state, WorkflowState::Cancelled);

    let by_state = |state| ListFilter { state: Some(state), ..ListFilter::default() };
    let by_name = |name: &str| ListFilter { name: Some(name.into()), ..ListFilter::default() };
    assert_eq!(listed(workflows, by_state(WorkflowState::Completed)).await, ["greet-1", "greet-2", "greet-3"]);
    assert_eq!(listed(workflows, by_state(WorkflowState::Running)).await, ["hold-1", "hold-2"]);
    assert_eq!(listed(workflows, by_state(WorkflowState::Cancelled)).await, ["hold-3"]);
    assert!(listed(workflows, by_state(WorkflowState::Failed)).await.is_empty());
    assert_eq!(listed(workflows, by_name("hold")).await, ["hold-1", "hold-2", "hold-3"]);
    let running_holds = ListFilter { state: Some(WorkflowState::Running), ..by_name("hold") };
    assert_eq!(listed(workflows, running_holds).await, ["hold-1", "hold-2"]);
    assert!(listed(workflows, by_name("nobody")).await.is_empty());

    // Pages of two, following the cursor until there is none: all six, each once, newest first.
    let mut seen: Vec<WorkflowRecord> = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = workflows.list(ListFilter { limit: Some(2), cursor, ..ListFilter::default() }).await.expect("page");
        assert!(page.workflows.len() <= 2, "a page holds at most its limit");
        seen.extend(page.workflows);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(cursor, None, "the paging ends");
    let ids: Vec<&str> = seen.iter().map(|workflow| workflow.workflow_id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no workflow is listed twice: {ids:?}");
    assert_eq!(unique, BTreeSet::from(["greet-1", "greet-2", "greet-3", "hold-1", "hold-2", "hold-3"]));
    let order: Vec<_> = seen.iter().map(|workflow| (workflow.created_at, workflow.workflow_id.clone())).collect();
    assert!(order.is_sorted_by(|newer, older| newer >= older), "newest first: {ids:?}");
}

#[tokio::test]
async fn list_filters_by_state_and_name_and_pages_through_every_workflow_once_on_sqlite() {
    let (workflows, _temp) = open_sqlite().await;
    list_filters_by_state_and_name_and_pages_through_every_workflow_once(&workflows).await;
}

#[tokio::test]
async fn list_filters_by_state_and_name_and_pages_through_every_workflow_once_on_postgres() {
    let Some((workflows, database)) = open_postgres().await else { return };
    list_filters_by_state_and_name_and_pages_through_every_workflow_once(&workflows).await;
    drop(workflows);
    database.remove().await;
}
