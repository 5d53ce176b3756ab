//! The durable-workflow behaviours every backend must show: an executor's checkpoints under its run's lease,
//! exactly-once effects and messages, and the run's end ending the workflow, on a manual clock.

use std::time::Duration;

use baton_core::Error;
use baton_core::job::{CompleteParams, FailParams, FetchParams, Job, JobState, LeaseRef};
use baton_core::namespace::Namespace;
use baton_core::workflow::{
    ForkParams, RecordStepParams, RecvParams, StartWorkflowParams, StepEffect, StepKind, WorkflowOptions,
    WorkflowRecord, WorkflowState,
};
use serde_json::{Value, json};

use crate::harness::Harness;

fn params(workflow_id: &str) -> StartWorkflowParams {
    StartWorkflowParams {
        namespace: Namespace::default(),
        workflow_id: workflow_id.into(),
        name: "order".into(),
        input: Some(json!({"order": 7})),
        options: WorkflowOptions::default(),
        parent_id: None,
    }
}

async fn start(h: &Harness, workflow_id: &str) -> WorkflowRecord {
    h.store.start_workflow(params(workflow_id)).await.expect("start").0
}

async fn get(h: &Harness, workflow_id: &str) -> WorkflowRecord {
    h.store.get_workflow(&Namespace::default(), workflow_id).await.expect("get").0
}

/// An embedded executor's fetch of one run from the default queue (it runs in the store's process).
fn executor_fetch() -> FetchParams {
    FetchParams {
        namespace: Namespace::default(),
        queues: vec!["workflows".into()],
        worker_id: "executor".into(),
        max_jobs: 1,
        lease_ms: 10_000,
        job_types: None,
        complete: Vec::new(),
        in_process: true,
    }
}

/// Takes the next run waiting on the default queue, as an embedded executor does.
async fn take_run(h: &Harness) -> Option<Job> {
    h.store.fetch(executor_fetch()).await.expect("fetch").jobs.pop()
}

fn lease(run: &Job) -> LeaseRef {
    run.lease().expect("leased")
}

fn step(run: &Job, workflow_id: &str, index: usize, name: &str, output: Value) -> RecordStepParams {
    RecordStepParams {
        lease: lease(run),
        workflow_id: workflow_id.into(),
        index,
        name: name.into(),
        kind: StepKind::Step,
        output: Some(output),
        error: None,
        attempts: 1,
        started_at: None,
        effect: None,
    }
}

async fn complete(h: &Harness, run: &Job, result: Value) {
    let params = CompleteParams { lease: lease(run), result: Some(result) };
    h.store.complete(vec![params]).await.expect("store").remove(0).expect("complete accepted");
}

pub async fn a_workflow_id_starts_one_run_and_its_checkpoints_are_written_once(h: &Harness) {
    let (first, created) = h.store.start_workflow(params("wf-1")).await.unwrap();
    assert!(created);
    let (again, created) = h.store.start_workflow(params("wf-1")).await.unwrap();
    assert!(!created, "the same id is the same run");
    assert_eq!(again.job_id, first.job_id);
    let run = take_run(h).await.expect("the run is a job of the workflow's queue");
    assert_eq!((run.job_type.as_str(), &run.payload["workflow_id"]), ("order", &json!("wf-1")));
    assert!(take_run(h).await.is_none(), "one run for one id");

    let recorded = h.store.record_step(step(&run, "wf-1", 0, "reserve", json!("r1"))).await.unwrap();
    assert_eq!(recorded.output, Some(json!("r1")));
    // A replay (or a retry of a lost answer) writes the same step again: the first output stands.
    let replayed = h.store.record_step(step(&run, "wf-1", 0, "reserve", json!("r2"))).await.unwrap();
    assert_eq!(replayed.output, Some(json!("r1")));
    match h.store.record_step(step(&run, "wf-1", 0, "charge", json!(1))).await {
        Err(Error::NonDeterministic { index: 0, recorded, requested, .. }) => {
            assert!(recorded.contains("reserve") && requested.contains("charge"), "{recorded} / {requested}");
        }
        other => panic!("expected NON_DETERMINISTIC, got {other:?}"),
    }
    let failed = RecordStepParams {
        output: None,
        error: Some("card declined".into()),
        attempts: 3,
        ..step(&run, "wf-1", 1, "charge", json!(null))
    };
    h.store.record_step(failed).await.unwrap();
    complete(h, &run, json!({"total": 42})).await;
    let (done, steps) = h.store.get_workflow(&Namespace::default(), "wf-1").await.unwrap();
    assert_eq!((done.state, done.output), (WorkflowState::Completed, Some(json!({"total": 42}))));
    assert!(done.finished_at.is_some());
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[1].error.as_deref(), steps[1].attempts), (Some("card declined"), 3));
    match h.store.record_step(step(&run, "wf-1", 2, "late", json!(1))).await {
        Err(Error::StaleToken { .. } | Error::WorkflowFinished { .. }) => {}
        other => panic!("a finished run takes no checkpoint, got {other:?}"),
    }
}

pub async fn a_start_can_take_its_run_for_an_executor_in_the_same_transaction(h: &Harness) {
    let started = h.store.start_workflow_taking(params("wf-taken"), executor_fetch()).await.unwrap();
    assert!(started.created);
    let [run] = started.taken.as_slice() else { panic!("the new run is taken, got {:?}", started.taken) };
    assert_eq!(Some(run.job_id), started.workflow.job_id);
    assert_eq!((run.state, run.worker_id.as_deref()), (JobState::Running, Some("executor")));
    assert!(take_run(h).await.is_none(), "a taken run waits for no one else");
    h.store.record_step(step(run, "wf-taken", 0, "a", json!(1))).await.expect("the taken run's lease holds");

    let again = h.store.start_workflow_taking(params("wf-taken"), executor_fetch()).await.unwrap();
    assert!(!again.created && again.taken.is_empty(), "an existing workflow is answered and nothing is taken");
    assert_eq!(again.workflow.job_id, started.workflow.job_id);
}

pub async fn completing_a_run_answers_the_workflow_it_ended(h: &Harness) {
    start(h, "wf-done").await;
    let run = take_run(h).await.unwrap();
    let complete = || CompleteParams { lease: lease(&run), result: Some(json!({"total": 5})) };
    let ended = h.store.complete_workflow_run("wf-done".into(), complete()).await.unwrap();
    assert_eq!((ended.state, ended.output.clone()), (WorkflowState::Completed, Some(json!({"total": 5}))));
    assert_eq!(ended, get(h, "wf-done").await, "the answer is the stored workflow");
    match h.store.complete_workflow_run("wf-done".into(), complete()).await {
        Err(Error::StaleToken { .. }) => {}
        other => panic!("a finished run cannot complete again, got {other:?}"),
    }
}

pub async fn a_lapsed_run_is_taken_again_and_the_stale_executor_is_refused(h: &Harness) {
    start(h, "wf-lapse").await;
    let first = take_run(h).await.unwrap();
    h.store.record_step(step(&first, "wf-lapse", 0, "a", json!(1))).await.unwrap();
    h.advance(Duration::from_secs(11));
    h.store.expire_job_leases(100).await.unwrap();
    let second = take_run(h).await.expect("the lapsed run waits again, at once");
    assert_eq!(second.job_id, first.job_id);
    match h.store.record_step(step(&first, "wf-lapse", 1, "b", json!(2))).await {
        Err(Error::StaleToken { .. }) => {}
        other => panic!("the old executor's checkpoint must be refused, got {other:?}"),
    }
    let (_, steps) = h.store.get_workflow(&Namespace::default(), "wf-lapse").await.unwrap();
    assert_eq!(steps.len(), 1, "the replay finds step 0 and nothing the stale executor tried");
    h.store.record_step(step(&second, "wf-lapse", 1, "b", json!(2))).await.unwrap();
    assert_eq!(get(h, "wf-lapse").await.state, WorkflowState::Running);
}

pub async fn messages_are_received_once_and_effects_happen_once(h: &Harness) {
    start(h, "receiver").await;
    let run = take_run(h).await.unwrap();
    let recv = |index: usize| RecvParams {
        lease: lease(&run),
        workflow_id: "receiver".into(),
        index,
        name: "wait-payment".into(),
        topic: "payment".into(),
    };
    assert!(h.store.recv_message(recv(0)).await.unwrap().is_none(), "nothing sent yet");
    h.store.send_message(&Namespace::default(), "receiver", "payment", json!({"paid": 1})).await.unwrap();
    h.store.send_message(&Namespace::default(), "receiver", "payment", json!({"paid": 2})).await.unwrap();
    let got = h.store.recv_message(recv(0)).await.unwrap().expect("the first message");
    assert_eq!(got.output, Some(json!({"paid": 1})));
    let replay = h.store.recv_message(recv(0)).await.unwrap().unwrap();
    assert_eq!(replay.output, Some(json!({"paid": 1})), "a replay gets the message it took, not the next");
    let next = h.store.recv_message(recv(1)).await.unwrap().unwrap();
    assert_eq!(next.output, Some(json!({"paid": 2})));
    assert!(h.store.recv_message(recv(2)).await.unwrap().is_none(), "each message was taken once");
    match h.store.send_message(&Namespace::default(), "nobody", "payment", json!(1)).await {
        Err(Error::WorkflowNotFound { .. }) => {}
        other => panic!("expected WORKFLOW_NOT_FOUND, got {other:?}"),
    }

    let set = RecordStepParams {
        kind: StepKind::SetEvent,
        effect: Some(StepEffect::SetEvent { key: "status".into(), value: json!("paid") }),
        ..step(&run, "receiver", 3, "publish", Value::Null)
    };
    h.store.record_step(set.clone()).await.unwrap();
    let event = h.store.workflow_event(&Namespace::default(), "receiver", "status").await.unwrap();
    assert_eq!(event, Some(json!("paid")));
    // The replayed step does not set the event again.
    let overwrite = RecordStepParams {
        effect: Some(StepEffect::SetEvent { key: "status".into(), value: json!("changed") }),
        ..set
    };
    h.store.record_step(overwrite).await.unwrap();
    assert_eq!(h.store.workflow_event(&Namespace::default(), "receiver", "status").await.unwrap(), Some(json!("paid")));
    assert_eq!(h.store.workflow_event(&Namespace::default(), "receiver", "other").await.unwrap(), None);

    let child = StartWorkflowParams { parent_id: Some("receiver".into()), ..params("receiver/child-4") };
    let start_child = RecordStepParams {
        kind: StepKind::StartChild,
        effect: Some(StepEffect::StartChild(child)),
        ..step(&run, "receiver", 4, "child", json!("receiver/child-4"))
    };
    h.store.record_step(start_child.clone()).await.unwrap();
    h.store.record_step(start_child).await.unwrap();
    let child_run = take_run(h).await.expect("the child's run");
    assert_eq!(child_run.payload["workflow_id"], json!("receiver/child-4"));
    assert!(take_run(h).await.is_none(), "the replayed step started no second child");
    assert_eq!(get(h, "receiver/child-4").await.parent_id.as_deref(), Some("receiver"));
}

/// The checkpoint is written before its effect, in one transaction: an effect that fails takes its checkpoint
/// with it, so the replay that comes next can record the step.
pub async fn a_checkpoint_whose_effect_fails_records_nothing(h: &Harness) {
    start(h, "sender").await;
    let run = take_run(h).await.unwrap();
    let send_to = |workflow_id: &str| RecordStepParams {
        kind: StepKind::Send,
        effect: Some(StepEffect::Send { workflow_id: workflow_id.into(), topic: "t".into(), message: json!(1) }),
        ..step(&run, "sender", 0, "notify", Value::Null)
    };
    match h.store.record_step(send_to("nobody")).await {
        Err(Error::WorkflowNotFound { .. }) => {}
        other => panic!("expected WORKFLOW_NOT_FOUND, got {other:?}"),
    }
    let (_, steps) = h.store.get_workflow(&Namespace::default(), "sender").await.unwrap();
    assert!(steps.is_empty(), "the failed effect took its checkpoint with it: {steps:?}");
    h.store.record_step(send_to("sender")).await.expect("the step is recorded once its effect can happen");
    assert!(h.store.record_step(send_to("nobody")).await.is_ok(), "a replay of a recorded step has no effect");
}

pub async fn cancel_resume_and_fork_follow_the_run(h: &Harness) {
    // A run nobody took yet is cancelled at once.
    start(h, "waiting").await;
    let cancelled = h.store.cancel_workflow(&Namespace::default(), "waiting").await.unwrap();
    assert_eq!(cancelled.state, WorkflowState::Cancelled);
    assert!(take_run(h).await.is_none());
    match h.store.cancel_workflow(&Namespace::default(), "waiting").await {
        Err(Error::WorkflowFinished { .. }) => {}
        other => panic!("expected WORKFLOW_FINISHED, got {other:?}"),
    }

    // A running one is flagged: its next checkpoint is refused, and its executor's failure cancels it.
    start(h, "busy").await;
    let run = take_run(h).await.unwrap();
    h.store.record_step(step(&run, "busy", 0, "a", json!("a"))).await.unwrap();
    h.store.record_step(step(&run, "busy", 1, "b", json!("b"))).await.unwrap();
    assert_eq!(h.store.cancel_workflow(&Namespace::default(), "busy").await.unwrap().state, WorkflowState::Running);
    match h.store.record_step(step(&run, "busy", 2, "c", json!("c"))).await {
        Err(Error::WorkflowCancelled { .. }) => {}
        other => panic!("expected WORKFLOW_CANCELLED, got {other:?}"),
    }
    let stop = FailParams { lease: lease(&run), error: "cancelled".into(), retry_in_ms: None, discard: true };
    let ended = h.store.fail(vec![stop]).await.unwrap().remove(0).unwrap();
    assert_eq!(ended.state, JobState::Cancelled);
    assert_eq!(get(h, "busy").await.state, WorkflowState::Cancelled);

    // Resume replays it from its checkpoints in a new run.
    let resumed = h.store.resume_workflow(&Namespace::default(), "busy").await.unwrap();
    assert_eq!((resumed.state, resumed.cancel_requested), (WorkflowState::Running, false));
    let rerun = take_run(h).await.expect("the resumed run");
    assert_ne!(rerun.job_id, run.job_id);
    let replayed = h.store.record_step(step(&rerun, "busy", 1, "b", json!("other"))).await.unwrap();
    assert_eq!(replayed.output, Some(json!("b")), "the checkpoint from before the cancel is reused");
    complete(h, &rerun, json!("done")).await;
    match h.store.resume_workflow(&Namespace::default(), "busy").await {
        Err(Error::WorkflowFinished { .. }) => {}
        other => panic!("a completed workflow is not resumed, got {other:?}"),
    }

    // A fork from step 1 keeps step 0 only.
    let fork = ForkParams {
        namespace: Namespace::default(),
        workflow_id: "busy".into(),
        new_id: "busy-fork".into(),
        from_step: 1,
    };
    let forked = h.store.fork_workflow(fork.clone()).await.unwrap();
    assert_eq!((forked.name.as_str(), forked.input.clone()), ("order", Some(json!({"order": 7}))));
    let (_, steps) = h.store.get_workflow(&Namespace::default(), "busy-fork").await.unwrap();
    assert_eq!(steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a"]);
    match h.store.fork_workflow(fork).await {
        Err(Error::WorkflowExists { .. }) => {}
        other => panic!("expected WORKFLOW_EXISTS, got {other:?}"),
    }
    let fork_run = take_run(h).await.expect("the fork runs");
    assert_eq!(fork_run.payload["workflow_id"], json!("busy-fork"));
}

pub async fn a_timed_out_workflow_is_cancelled_at_its_next_checkpoint(h: &Harness) {
    let options = WorkflowOptions { timeout_ms: Some(5_000), ..WorkflowOptions::default() };
    h.store.start_workflow(StartWorkflowParams { options, ..params("slow") }).await.unwrap();
    let run = take_run(h).await.unwrap();
    h.store.record_step(step(&run, "slow", 0, "a", json!(1))).await.unwrap();
    h.advance(Duration::from_secs(5));
    match h.store.record_step(step(&run, "slow", 1, "b", json!(2))).await {
        Err(Error::WorkflowCancelled { .. }) => {}
        other => panic!("expected WORKFLOW_CANCELLED past the timeout, got {other:?}"),
    }
    let stop = FailParams { lease: lease(&run), error: "timed out".into(), retry_in_ms: None, discard: true };
    h.store.fail(vec![stop]).await.unwrap();
    let ended = get(h, "slow").await;
    assert_eq!(ended.state, WorkflowState::Cancelled);
    assert!(ended.error.as_deref().is_some_and(|e| e.contains("timed out")), "{ended:?}");
}

pub async fn a_cancel_passes_on_to_running_children_and_grandchildren(h: &Harness) {
    start(h, "parent").await;
    let parent_run = take_run(h).await.expect("the parent's run");
    let start_child = |run: &Job, parent: &str, child: &str| RecordStepParams {
        kind: StepKind::StartChild,
        effect: Some(StepEffect::StartChild(StartWorkflowParams { parent_id: Some(parent.into()), ..params(child) })),
        ..step(run, parent, 0, "child", json!(child))
    };
    h.store.record_step(start_child(&parent_run, "parent", "child")).await.unwrap();
    let child_run = take_run(h).await.expect("the child's run");
    h.store.record_step(start_child(&child_run, "child", "grandchild")).await.unwrap();
    // An unrelated workflow, and a finished child, are left as they are.
    start(h, "bystander").await;

    let cancelled = h.store.cancel_workflow(&Namespace::default(), "parent").await.unwrap();
    assert!(cancelled.cancel_requested, "a running parent is flagged; its executor stops at its next checkpoint");
    assert!(get(h, "child").await.cancel_requested, "the running child is flagged too");
    assert_eq!(get(h, "grandchild").await.state, WorkflowState::Cancelled, "a waiting grandchild ends at once");
    assert_eq!(get(h, "bystander").await.state, WorkflowState::Running);
    assert!(!get(h, "bystander").await.cancel_requested);
    match h.store.record_step(step(&child_run, "child", 1, "next", json!(1))).await {
        Err(Error::WorkflowCancelled { .. }) => {}
        other => panic!("the child's next checkpoint should be refused, got {other:?}"),
    }
}
