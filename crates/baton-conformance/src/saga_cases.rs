//! The saga behaviours every backend must show, driven by a worker that fetches, completes and fails the step
//! jobs through the job store, on a manual clock.

use std::time::Duration;

use baton_core::Error;
use baton_core::job::{BackoffStrategy, CompleteParams, FailParams, FetchParams, Job, JobState, LeaseRef};
use baton_core::namespace::Namespace;
use baton_core::saga::engine::SagaRecord;
use baton_core::saga::{RetryPolicy, SagaId, SagaSpec, SagaState, StepPhase, StepSpec, StepState};
use serde_json::{Value, json};

use crate::harness::Harness;

fn step(name: &str) -> StepSpec {
    StepSpec {
        name: name.into(),
        service: "svc".into(),
        action: format!("do_{name}"),
        compensation: Some(format!("undo_{name}")),
        timeout_seconds: 30,
        retry_policy: None,
        input: None,
    }
}

fn saga(steps: Vec<StepSpec>) -> SagaSpec {
    SagaSpec { name: "order".into(), steps, input: Some(json!({"order": 7})), ..SagaSpec::default() }
}

async fn start(h: &Harness, spec: SagaSpec) -> SagaRecord {
    h.store.start_saga(&Namespace::default(), spec).await.expect("start").0
}

async fn get(h: &Harness, saga_id: SagaId) -> SagaRecord {
    h.store.get_saga(&Namespace::default(), saga_id).await.expect("get").0
}

/// The one step job waiting on queue `svc`, if any.
async fn fetch(h: &Harness) -> Option<Job> {
    let params = FetchParams {
        namespace: Namespace::default(),
        queues: vec!["svc".into()],
        worker_id: "w1".into(),
        max_jobs: 10,
        lease_ms: 10_000,
        job_types: None,
        complete: Vec::new(),
        in_process: false,
    };
    let mut jobs = h.store.fetch(params).await.expect("fetch").jobs;
    assert!(jobs.len() <= 1, "a saga runs one step job at a time: {jobs:?}");
    jobs.pop()
}

async fn fetch_type(h: &Harness, job_type: &str) -> Job {
    let job = fetch(h).await.unwrap_or_else(|| panic!("expected a {job_type} job"));
    assert_eq!(job.job_type, job_type);
    job
}

fn lease(job: &Job) -> LeaseRef {
    job.lease().expect("leased")
}

async fn complete(h: &Harness, job: &Job, result: Value) -> Job {
    let params = CompleteParams { lease: lease(job), result: Some(result) };
    h.store.complete(vec![params]).await.expect("store").remove(0).expect("complete accepted")
}

async fn fail(h: &Harness, job: &Job) -> Job {
    let params = FailParams { lease: lease(job), error: "boom".into(), retry_in_ms: None, discard: false };
    h.store.fail(vec![params]).await.expect("store").remove(0).expect("fail accepted")
}

pub async fn a_saga_runs_its_steps_as_jobs_and_completes_with_their_outputs(h: &Harness) {
    let started = start(h, saga(vec![step("reserve"), step("charge")])).await;
    assert_eq!((started.state, started.current_step), (SagaState::Running, Some(0)));
    let reserve = fetch_type(h, "svc.do_reserve").await;
    assert_eq!(reserve.payload["saga_id"], json!(started.saga_id));
    assert_eq!((&reserve.payload["step"], &reserve.payload["input"]), (&json!("reserve"), &json!({"order": 7})));
    assert_eq!(reserve.payload["outputs"], json!({}));
    assert_eq!(reserve.max_attempts, 1);
    assert_eq!(reserve.timeout_ms, Some(30_000));
    complete(h, &reserve, json!({"reservation": "r1"})).await;
    assert_eq!(get(h, started.saga_id).await.current_step, Some(1));
    let charge = fetch_type(h, "svc.do_charge").await;
    assert_eq!(charge.payload["outputs"], json!({"reserve": {"reservation": "r1"}}));
    complete(h, &charge, json!({"charge": "c1"})).await;
    let (done, steps) = h.store.get_saga(&Namespace::default(), started.saga_id).await.unwrap();
    assert_eq!((done.state, done.current_step), (SagaState::Completed, None));
    assert!(done.finished_at.is_some());
    let actions: Vec<_> = steps.iter().filter(|s| s.phase == StepPhase::Action).collect();
    assert!(actions.iter().all(|s| s.state == StepState::Completed && s.attempts == 1));
    assert_eq!(actions[1].output, Some(json!({"charge": "c1"})));
    assert!(fetch(h).await.is_none(), "a completed saga runs no compensation");
}

pub async fn a_dead_saga_step_is_retried_on_its_policy_then_compensates_in_reverse(h: &Harness) {
    let retry = RetryPolicy { max_retries: 1, backoff_strategy: BackoffStrategy::Fixed, initial_delay_ms: 5_000 };
    let flaky = StepSpec { retry_policy: Some(retry), ..step("ship") };
    let started = start(h, saga(vec![step("reserve"), StepSpec { compensation: None, ..step("note") }, flaky])).await;
    complete(h, &fetch_type(h, "svc.do_reserve").await, json!("r1")).await;
    complete(h, &fetch_type(h, "svc.do_note").await, json!("n1")).await;
    let first = fetch_type(h, "svc.do_ship").await;
    assert_eq!(first.max_attempts, 2);
    assert_eq!(fail(h, &first).await.state, JobState::Retryable);
    h.advance(Duration::from_millis(4_999));
    assert!(fetch(h).await.is_none(), "the retry waits its fixed 5 s");
    h.advance(Duration::from_millis(1));
    let second = fetch_type(h, "svc.do_ship").await;
    assert_eq!(second.job_id, first.job_id);
    assert_eq!(get(h, started.saga_id).await.state, SagaState::Running);
    assert_eq!(fail(h, &second).await.state, JobState::Discarded);
    assert_eq!(get(h, started.saga_id).await.state, SagaState::Compensating);
    // `note` has no compensation: it is passed over.
    let undo = fetch_type(h, "svc.undo_reserve").await;
    assert_eq!(undo.payload["outputs"], json!({"reserve": "r1", "note": "n1"}));
    assert_eq!(undo.payload["phase"], json!("compensation"));
    complete(h, &undo, json!(null)).await;
    let (saga, steps) = h.store.get_saga(&Namespace::default(), started.saga_id).await.unwrap();
    assert_eq!((saga.state, saga.failed_step), (SagaState::Compensated, None));
    let ship = steps.iter().find(|s| s.index == 2 && s.phase == StepPhase::Action).unwrap();
    assert_eq!((ship.state, ship.attempts, ship.errors.len()), (StepState::Failed, 2, 2));
    assert!(fetch(h).await.is_none());
}

pub async fn a_compensation_that_gives_out_fails_the_saga_naming_the_step(h: &Harness) {
    let started = start(h, saga(vec![step("reserve"), step("charge"), step("ship")])).await;
    complete(h, &fetch_type(h, "svc.do_reserve").await, json!(1)).await;
    complete(h, &fetch_type(h, "svc.do_charge").await, json!(2)).await;
    fail(h, &fetch_type(h, "svc.do_ship").await).await;
    fail(h, &fetch_type(h, "svc.undo_charge").await).await;
    let saga = get(h, started.saga_id).await;
    assert_eq!((saga.state, saga.failed_step), (SagaState::CompensationFailed, Some(1)));
    assert!(saga.error.as_deref().is_some_and(|e| e.contains("step 1")), "{:?}", saga.error);
    assert!(fetch(h).await.is_none(), "nothing runs after a failed compensation: a human decides");
}

pub async fn cancel_compensates_and_a_late_completion_does_not_advance_the_saga(h: &Harness) {
    let started = start(h, saga(vec![step("reserve"), step("charge"), step("ship")])).await;
    complete(h, &fetch_type(h, "svc.do_reserve").await, json!(1)).await;
    let charge = fetch_type(h, "svc.do_charge").await;
    let cancelled = h.store.cancel_saga(&Namespace::default(), started.saga_id).await.unwrap();
    assert!(cancelled.cancel_requested);
    // The worker finishes the step it already ran: the saga undoes it instead of moving to `ship`.
    complete(h, &charge, json!(2)).await;
    complete(h, &fetch_type(h, "svc.undo_charge").await, json!(null)).await;
    complete(h, &fetch_type(h, "svc.undo_reserve").await, json!(null)).await;
    assert_eq!(get(h, started.saga_id).await.state, SagaState::Cancelled);
    assert!(fetch(h).await.is_none(), "ship never ran");
    let again = h.store.cancel_saga(&Namespace::default(), started.saga_id).await;
    assert!(matches!(again, Err(Error::SagaFinished { state: SagaState::Cancelled, .. })), "{again:?}");

    // A saga whose step job still waits is cancelled at once.
    let waiting = start(h, saga(vec![step("reserve")])).await;
    let cancelled = h.store.cancel_saga(&Namespace::default(), waiting.saga_id).await.unwrap();
    assert_eq!(cancelled.state, SagaState::Cancelled);
    assert!(fetch(h).await.is_none());
    let unknown = h.store.cancel_saga(&Namespace::default(), SagaId::new()).await;
    assert!(matches!(unknown, Err(Error::SagaNotFound { .. })), "{unknown:?}");
}

pub async fn an_idempotency_key_starts_one_saga(h: &Harness) {
    let keyed = SagaSpec { idempotency_key: Some("order-7".into()), ..saga(vec![step("reserve")]) };
    let (first, _, created) = h.store.start_saga(&Namespace::default(), keyed.clone()).await.unwrap();
    assert!(created);
    let (second, _, created) = h.store.start_saga(&Namespace::default(), keyed).await.unwrap();
    assert_eq!((second.saga_id, created), (first.saga_id, false));
    assert!(fetch(h).await.is_some());
    assert!(fetch(h).await.is_none(), "the second start enqueued nothing");
}
