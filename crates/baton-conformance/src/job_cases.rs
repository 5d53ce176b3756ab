//! The job behaviours every backend must show, as short scripts on a manual clock.

use std::collections::HashSet;
use std::time::Duration;

use baton_core::Error;
use baton_core::clock::Timestamp;
use baton_core::job::schedule::{JobTemplate, Overlap, Schedule, tick_job_id};
use baton_core::job::{
    Backoff, BackoffStrategy, CompleteParams, EnqueueOutcome, EnqueueParams, FailParams, FetchParams, HeartbeatParams,
    Job, JobId, JobState, LeaseRef, LeaseToken, ListJobsParams, NewJob, OnConflict, QueueSettingsUpdate, RateLimit,
    RunAt, Uniqueness,
};
use baton_core::namespace::Namespace;
use baton_core::store::Change;
use serde_json::json;

use crate::harness::Harness;

const SECOND: Duration = Duration::from_secs(1);

fn job(queue: &str) -> NewJob {
    NewJob {
        job_id: JobId::new(),
        queue: queue.to_owned(),
        job_type: "send".into(),
        payload: json!({"to": "a@example.com"}),
        priority: 0,
        run_at: RunAt::Now,
        max_attempts: 3,
        backoff: Backoff {
            strategy: BackoffStrategy::Fixed,
            initial_delay_ms: 5_000,
            max_delay_ms: 5_000,
            jitter: 0.0,
        },
        timeout_ms: None,
        unique: None,
        concurrency_key: None,
        tags: Vec::new(),
        metadata: None,
        trace_context: None,
    }
}

async fn enqueue(h: &Harness, jobs: Vec<NewJob>) -> Vec<EnqueueOutcome> {
    h.store.enqueue(EnqueueParams { namespace: Namespace::default(), jobs }).await.expect("enqueue")
}

async fn enqueue_one(h: &Harness, new: NewJob) -> Job {
    match enqueue(h, vec![new]).await.pop().expect("one outcome") {
        EnqueueOutcome::Created(job) => job,
        other => panic!("expected a new job, got {other:?}"),
    }
}

fn fetch_params(queue: &str, max_jobs: u32) -> FetchParams {
    FetchParams {
        namespace: Namespace::default(),
        queues: vec![queue.to_owned()],
        worker_id: "w1".into(),
        max_jobs,
        lease_ms: 10_000,
        job_types: None,
        complete: Vec::new(),
        in_process: false,
    }
}

async fn fetch(h: &Harness, queue: &str, max_jobs: u32) -> Vec<Job> {
    h.store.fetch(fetch_params(queue, max_jobs)).await.expect("fetch").jobs
}

/// Whether an empty fetch says a concurrency limit held jobs back (so a finishing job should wake its poll).
async fn empty_fetch_held_back(h: &Harness, queue: &str) -> bool {
    let outcome = h.store.fetch(fetch_params(queue, 10)).await.expect("fetch");
    assert!(outcome.jobs.is_empty(), "expected nothing to fetch: {:?}", outcome.jobs);
    outcome.held_back
}

fn lease(job: &Job) -> LeaseRef {
    job.lease().expect("leased")
}

async fn complete(h: &Harness, lease: LeaseRef) -> Result<Job, Error> {
    h.store.complete(vec![CompleteParams { lease, result: Some(json!({"ok": true})) }]).await.expect("store").remove(0)
}

async fn fail(h: &Harness, job: &Job, discard: bool) -> Job {
    let params = FailParams { lease: lease(job), error: "boom".into(), retry_in_ms: None, discard };
    h.store.fail(vec![params]).await.expect("store").remove(0).expect("fail accepted")
}

async fn get(h: &Harness, job_id: JobId) -> Job {
    h.store.get_job(&Namespace::default(), job_id).await.expect("get").expect("exists")
}

fn assert_stale(result: Result<Job, Error>) {
    assert!(matches!(result, Err(Error::StaleToken { .. })), "expected STALE_TOKEN, got {result:?}");
}

pub async fn jobs_are_fetched_best_priority_first_with_increasing_tokens(h: &Harness) {
    let low = enqueue_one(h, NewJob { priority: -5, ..job("q") }).await;
    let first = enqueue_one(h, job("q")).await;
    let second = enqueue_one(h, job("q")).await;
    let urgent = enqueue_one(h, NewJob { priority: 10, ..job("q") }).await;
    assert_eq!(first.state, JobState::Available);
    let fetched = fetch(h, "q", 10).await;
    let order: Vec<JobId> = fetched.iter().map(|job| job.job_id).collect();
    assert_eq!(order, vec![urgent.job_id, first.job_id, second.job_id, low.job_id]);
    let tokens: HashSet<LeaseToken> = fetched.iter().map(|job| job.lease_token.expect("token")).collect();
    assert_eq!(tokens.len(), 4);
    for job in &fetched {
        assert_eq!((job.state, job.attempt, job.worker_id.as_deref()), (JobState::Running, 1, Some("w1")));
        assert_eq!(job.lease_expires_at, Some(h.clock_now().plus(Duration::from_secs(10))));
    }
    assert!(fetch(h, "q", 10).await.is_empty(), "a running job is not fetched twice");
    assert!(fetch(h, "other", 10).await.is_empty(), "queues are separate");
}

pub async fn fetches_can_take_only_some_types(h: &Harness) {
    let resize = enqueue_one(h, NewJob { job_type: "resize".into(), ..job("q") }).await;
    enqueue_one(h, job("q")).await;
    let only_resize = FetchParams { job_types: Some(vec!["resize".into()]), ..fetch_params("q", 10) };
    let fetched = h.store.fetch(only_resize.clone()).await.unwrap().jobs;
    assert_eq!(fetched.iter().map(|job| job.job_id).collect::<Vec<_>>(), vec![resize.job_id]);
    assert!(h.store.fetch(only_resize).await.unwrap().jobs.is_empty(), "the other type stays for its workers");
    assert_eq!(fetch(h, "q", 10).await.len(), 1);
}

pub async fn delayed_jobs_wait_for_their_time(h: &Harness) {
    let delayed = enqueue_one(h, NewJob { run_at: RunAt::After { delay_ms: 10_000 }, ..job("q") }).await;
    assert_eq!(delayed.state, JobState::Scheduled);
    let outcome = h.store.fetch(fetch_params("q", 1)).await.unwrap();
    assert!(outcome.jobs.is_empty());
    assert_eq!(outcome.next_due_in_ms, Some(10_000));
    h.advance(10 * SECOND);
    assert_eq!(fetch(h, "q", 1).await[0].job_id, delayed.job_id);

    // A paused queue's due jobs stay scheduled: its fetches neither hand them out nor make them available.
    let ns = Namespace::default();
    let later = enqueue_one(h, NewJob { run_at: RunAt::After { delay_ms: 1_000 }, ..job("q") }).await;
    let pause = QueueSettingsUpdate { paused: Some(true), ..QueueSettingsUpdate::default() };
    h.store.update_queue(&ns, "q", pause).await.unwrap();
    h.advance(SECOND);
    assert!(fetch(h, "q", 1).await.is_empty());
    assert_eq!(get(h, later.job_id).await.state, JobState::Scheduled);
    let resume = QueueSettingsUpdate { paused: Some(false), ..QueueSettingsUpdate::default() };
    h.store.update_queue(&ns, "q", resume).await.unwrap();
    assert_eq!(fetch(h, "q", 1).await[0].job_id, later.job_id);
}

pub async fn only_the_current_lease_token_completes_a_job(h: &Harness) {
    let queued = enqueue_one(h, job("q")).await;
    let running = fetch(h, "q", 1).await.remove(0);
    let foreign = LeaseRef { lease_token: LeaseToken(running.lease_token.unwrap().0 + 1000), ..lease(&running) };
    assert_stale(complete(h, foreign).await);
    assert_eq!(get(h, queued.job_id).await.state, JobState::Running, "a stale ack changes nothing");
    let done = complete(h, lease(&running)).await.expect("completes");
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(done.result, Some(json!({"ok": true})));
    assert_eq!(done.finalized_at, Some(h.clock_now()));
    assert_stale(complete(h, lease(&running)).await);
    let unknown = LeaseRef { job_id: JobId::new(), ..lease(&running) };
    assert!(matches!(complete(h, unknown).await, Err(Error::JobNotFound { .. })));
}

pub async fn failed_attempts_back_off_then_go_dead_and_can_be_redriven(h: &Harness) {
    let queued = enqueue_one(h, NewJob { max_attempts: 2, ..job("q") }).await;
    let first = fetch(h, "q", 1).await.remove(0);
    let retrying = fail(h, &first, false).await;
    assert_eq!(retrying.state, JobState::Retryable);
    assert_eq!(retrying.run_at, h.clock_now().plus(5 * SECOND));
    assert_eq!(retrying.errors.len(), 1);
    assert_eq!((retrying.errors[0].attempt, retrying.errors[0].error.as_str()), (1, "boom"));
    assert!(fetch(h, "q", 1).await.is_empty(), "backing off");
    h.advance(5 * SECOND);
    let second = fetch(h, "q", 1).await.remove(0);
    assert_eq!(second.attempt, 2);
    assert!(second.lease_token > first.lease_token);
    let dead = fail(h, &second, false).await;
    assert_eq!((dead.state, dead.finalized_at.is_some()), (JobState::Discarded, true));
    let redriven = h.store.retry_job(&Namespace::default(), queued.job_id).await.unwrap();
    assert_eq!((redriven.state, redriven.finalized_at, redriven.max_attempts), (JobState::Available, None, 3));
    assert_eq!(fetch(h, "q", 1).await[0].attempt, 3);
    let discarded = fail(h, &get(h, queued.job_id).await, true).await;
    assert_eq!(discarded.state, JobState::Discarded, "discard ends it whatever attempts are left");
}

pub async fn a_lapsed_lease_returns_the_job_and_refuses_the_late_ack(h: &Harness) {
    enqueue_one(h, NewJob { backoff: Backoff { initial_delay_ms: 0, ..job("q").backoff }, ..job("q") }).await;
    let running = fetch(h, "q", 1).await.remove(0);
    h.advance(9 * SECOND);
    assert_eq!(h.store.expire_job_leases(100).await.unwrap().jobs_expired, 0);
    h.advance(SECOND);
    let report = h.store.expire_job_leases(100).await.unwrap();
    assert_eq!(report.jobs_expired, 1);
    let returned = get(h, running.job_id).await;
    assert_eq!(returned.state, JobState::Retryable);
    assert!(returned.errors[0].error.contains("lease expired"), "{:?}", returned.errors);
    assert_stale(complete(h, lease(&running)).await);
    let again = fetch(h, "q", 1).await.remove(0);
    assert!(again.lease_token > running.lease_token);
    complete(h, lease(&again)).await.expect("the new lease completes");
}

pub async fn heartbeats_extend_the_lease_and_record_progress(h: &Harness) {
    enqueue_one(h, job("q")).await;
    let running = fetch(h, "q", 1).await.remove(0);
    h.advance(8 * SECOND);
    let params = HeartbeatParams { lease: lease(&running), progress: Some(json!({"pct": 50})), extend_ms: None };
    let beat = h.store.heartbeat(params).await.unwrap();
    assert_eq!(beat.lease_expires_at, h.clock_now().plus(10 * SECOND));
    assert!(!beat.cancel_requested);
    h.advance(8 * SECOND);
    assert_eq!(h.store.expire_job_leases(100).await.unwrap().jobs_expired, 0);
    let job = get(h, running.job_id).await;
    assert_eq!((job.state, job.progress), (JobState::Running, Some(json!({"pct": 50}))));
    let stale = HeartbeatParams {
        lease: LeaseRef { lease_token: LeaseToken(-1), ..lease(&running) },
        progress: None,
        extend_ms: None,
    };
    assert!(matches!(h.store.heartbeat(stale).await, Err(Error::StaleToken { .. })));
}

pub async fn a_timeout_fails_the_running_attempt(h: &Harness) {
    enqueue_one(h, NewJob { timeout_ms: Some(5_000), ..job("q") }).await;
    let running = h.store.fetch(FetchParams { lease_ms: 60_000, ..fetch_params("q", 1) }).await.unwrap().jobs.remove(0);
    h.advance(5 * SECOND);
    assert_eq!(h.store.expire_job_leases(100).await.unwrap().jobs_expired, 1);
    let job = get(h, running.job_id).await;
    assert_eq!(job.state, JobState::Retryable);
    assert!(job.errors[0].error.contains("timed out"), "{:?}", job.errors);
}

/// Each pass reads lapsed leases and timeouts through their own indexes: a job lapsed both ways is ended once, a
/// pass takes no more than its limit, and the next lapse is whichever of the two comes first.
pub async fn the_job_reaper_ends_each_lapse_once_and_knows_the_next_one(h: &Harness) {
    let timing_out = enqueue_one(h, NewJob { timeout_ms: Some(5_000), ..job("q") }).await;
    let lapsing_twice = enqueue_one(h, NewJob { timeout_ms: Some(8_000), ..job("q") }).await;
    let lapsing = enqueue_one(h, job("q")).await;
    for lease_ms in [60_000, 8_000, 10_000] {
        let fetched = h.store.fetch(FetchParams { lease_ms, ..fetch_params("q", 1) }).await.unwrap().jobs;
        assert_eq!(fetched.len(), 1);
    }
    let idle = h.store.expire_job_leases(100).await.unwrap();
    assert_eq!((idle.jobs_expired, idle.next_due_in_ms), (0, Some(5_000)), "the first timeout is the next lapse");

    h.advance(5 * SECOND);
    let timed_out = h.store.expire_job_leases(100).await.unwrap();
    assert_eq!((timed_out.jobs_expired, timed_out.next_due_in_ms), (1, Some(3_000)), "then the 8 s lease");
    assert!(get(h, timing_out.job_id).await.errors[0].error.contains("timed out"));

    h.advance(5 * SECOND);
    assert_eq!(h.store.expire_job_leases(1).await.unwrap().jobs_expired, 1, "a pass takes no more than its limit");
    let rest = h.store.expire_job_leases(100).await.unwrap();
    assert_eq!((rest.jobs_expired, rest.next_due_in_ms), (1, None), "the job lapsed both ways was ended once");
    for job_id in [lapsing_twice.job_id, lapsing.job_id] {
        let job = get(h, job_id).await;
        assert_eq!((job.state, job.errors.len()), (JobState::Retryable, 1), "{job:?}");
    }
}

fn unique(key: &str, on_conflict: OnConflict) -> NewJob {
    let states = vec![JobState::Scheduled, JobState::Available, JobState::Running, JobState::Retryable];
    NewJob { unique: Some(Uniqueness { key: key.into(), for_ms: None, states, on_conflict }), ..job("q") }
}

pub async fn unique_keys_answer_with_the_existing_job(h: &Harness) {
    let original = enqueue_one(h, unique("order-1", OnConflict::Existing)).await;
    let again = enqueue(h, vec![unique("order-1", OnConflict::Existing)]).await;
    assert!(matches!(&again[0], EnqueueOutcome::Duplicate(existing) if existing.job_id == original.job_id));
    let rejected = h
        .store
        .enqueue(EnqueueParams { namespace: Namespace::default(), jobs: vec![unique("order-1", OnConflict::Reject)] })
        .await;
    assert!(matches!(rejected, Err(Error::DuplicateJob { .. })), "{rejected:?}");
    let in_batch =
        enqueue(h, vec![unique("order-2", OnConflict::Existing), unique("order-2", OnConflict::Existing)]).await;
    assert!(
        matches!((&in_batch[0], &in_batch[1]), (EnqueueOutcome::Created(a), EnqueueOutcome::Duplicate(b)) if a.job_id == b.job_id)
    );
    let running = fetch(h, "q", 1).await.remove(0);
    complete(h, lease(&running)).await.unwrap();
    let key = running.unique_key.clone().unwrap();
    let after_finish = enqueue(h, vec![unique(&key, OnConflict::Existing)]).await;
    assert!(matches!(after_finish[0], EnqueueOutcome::Created(_)), "a finished job no longer blocks its key");
    let mut windowed = unique("report", OnConflict::Existing);
    if let Some(unique) = &mut windowed.unique {
        unique.for_ms = Some(10_000);
        unique.states = JobState::ALL.to_vec();
    }
    enqueue_one(h, windowed.clone()).await;
    assert!(matches!(
        enqueue(h, vec![NewJob { job_id: JobId::new(), ..windowed.clone() }]).await[0],
        EnqueueOutcome::Duplicate(_)
    ));
    h.advance(11 * SECOND);
    assert!(matches!(
        enqueue(h, vec![NewJob { job_id: JobId::new(), ..windowed }]).await[0],
        EnqueueOutcome::Created(_)
    ));
}

pub async fn cancel_stops_waiting_jobs_and_flags_running_ones(h: &Harness) {
    let ns = Namespace::default();
    let running = enqueue_one(h, job("q")).await;
    let waiting = enqueue_one(h, job("q")).await;
    let running = fetch(h, "q", 1).await.into_iter().find(|j| j.job_id == running.job_id).expect("first fetched");
    let cancelled = h.store.cancel_job(&ns, waiting.job_id).await.unwrap();
    assert_eq!((cancelled.state, cancelled.finalized_at.is_some()), (JobState::Cancelled, true));
    let flagged = h.store.cancel_job(&ns, running.job_id).await.unwrap();
    assert_eq!((flagged.state, flagged.cancel_requested), (JobState::Running, true));
    let beat = h.store.heartbeat(HeartbeatParams { lease: lease(&running), progress: None, extend_ms: None }).await;
    assert!(beat.unwrap().cancel_requested);
    assert_eq!(fail(h, &running, false).await.state, JobState::Cancelled, "a cancelled job does not retry");
    let again = h.store.cancel_job(&ns, running.job_id).await;
    assert!(matches!(again, Err(Error::InvalidJobState { state: JobState::Cancelled, .. })), "{again:?}");
    assert!(matches!(h.store.cancel_job(&ns, JobId::new()).await, Err(Error::JobNotFound { .. })));
}

pub async fn paused_queues_and_global_concurrency_limit_fetches(h: &Harness) {
    let ns = Namespace::default();
    assert!(!empty_fetch_held_back(h, "q").await, "an empty queue holds nothing back");
    for _ in 0..5 {
        enqueue_one(h, job("q")).await;
    }
    let pause = QueueSettingsUpdate { paused: Some(true), ..QueueSettingsUpdate::default() };
    assert!(h.store.update_queue(&ns, "q", pause).await.unwrap().paused);
    assert!(fetch(h, "q", 5).await.is_empty(), "a paused queue hands out nothing");
    let resume = QueueSettingsUpdate {
        paused: Some(false),
        global_concurrency: Some(Some(2)),
        ..QueueSettingsUpdate::default()
    };
    let settings = h.store.update_queue(&ns, "q", resume).await.unwrap();
    assert_eq!((settings.paused, settings.global_concurrency), (false, Some(2)));
    let running = fetch(h, "q", 5).await;
    assert_eq!(running.len(), 2);
    assert!(empty_fetch_held_back(h, "q").await, "at the limit, with jobs waiting");
    complete(h, lease(&running[0])).await.unwrap();
    assert_eq!(fetch(h, "q", 5).await.len(), 1, "a finished job frees one slot");
}

pub async fn rate_limits_count_starts_per_period(h: &Harness) {
    let ns = Namespace::default();
    for _ in 0..5 {
        enqueue_one(h, job("q")).await;
    }
    let limit = RateLimit { limit: 2, period_ms: 10_000 };
    h.store
        .update_queue(&ns, "q", QueueSettingsUpdate { rate_limit: Some(Some(limit)), ..Default::default() })
        .await
        .unwrap();
    let first = fetch(h, "q", 5).await;
    assert_eq!(first.len(), 2);
    for job in &first {
        complete(h, lease(job)).await.unwrap();
    }
    assert!(fetch(h, "q", 5).await.is_empty(), "finishing does not refill a rate limit");
    h.advance(10 * SECOND);
    assert_eq!(fetch(h, "q", 5).await.len(), 2);
}

pub async fn concurrency_keys_limit_running_jobs_per_key(h: &Harness) {
    let keyed = |key: &str| NewJob { concurrency_key: Some(key.into()), ..job("q") };
    let a1 = enqueue_one(h, keyed("customer-a")).await;
    let a2 = enqueue_one(h, keyed("customer-a")).await;
    let b1 = enqueue_one(h, keyed("customer-b")).await;
    let free = enqueue_one(h, job("q")).await;
    let first: HashSet<JobId> = fetch(h, "q", 10).await.iter().map(|job| job.job_id).collect();
    assert_eq!(first, HashSet::from([a1.job_id, b1.job_id, free.job_id]));
    assert!(empty_fetch_held_back(h, "q").await, "customer-a already runs one");
    complete(h, lease(&get(h, a1.job_id).await)).await.unwrap();
    assert_eq!(fetch(h, "q", 10).await[0].job_id, a2.job_id);

    // A long run of one busy key ahead of another key does not starve it.
    enqueue(h, (0..50).map(|_| keyed("customer-c")).collect()).await;
    let d = enqueue_one(h, keyed("customer-d")).await;
    let first = fetch(h, "q", 1).await.remove(0);
    assert_eq!(first.concurrency_key.as_deref(), Some("customer-c"));
    assert_eq!(fetch(h, "q", 1).await[0].job_id, d.job_id, "customer-c's other jobs are skipped");
}

pub async fn a_fetch_can_complete_the_previous_jobs_in_the_same_transaction(h: &Harness) {
    enqueue(h, vec![job("q"), job("q"), job("q")]).await;
    let first = fetch(h, "q", 2).await;
    let stale = LeaseRef { lease_token: LeaseToken(-1), ..lease(&first[1]) };
    let acks = vec![
        CompleteParams { lease: lease(&first[0]), result: Some(json!(1)) },
        CompleteParams { lease: stale, result: None },
    ];
    let outcome = h.store.fetch(FetchParams { complete: acks, ..fetch_params("q", 2) }).await.unwrap();
    assert_eq!(outcome.completed[0].as_ref().map(|job| job.state).ok(), Some(JobState::Completed));
    assert!(matches!(outcome.completed[1], Err(Error::StaleToken { .. })), "a refused ack still fetches");
    assert_eq!(outcome.jobs.len(), 1, "the third job");
    assert_eq!(get(h, first[0].job_id).await.result, Some(json!(1)));
}

pub async fn an_enqueue_can_take_its_job_for_a_poll_in_the_same_transaction(h: &Harness) {
    let queue = format!("handed-{}", JobId::new());
    let mut changes = h.store.changes();
    let (new, delayed) = (job(&queue), NewJob { run_at: RunAt::After { delay_ms: 60_000 }, ..job(&queue) });
    let params = EnqueueParams { namespace: Namespace::default(), jobs: vec![new.clone(), delayed.clone()] };
    let enqueued = h.store.enqueue_taking(params, fetch_params(&queue, 4)).await.unwrap();
    assert_eq!(enqueued.outcomes.len(), 2);
    assert!(enqueued.outcomes.iter().all(|outcome| matches!(outcome, EnqueueOutcome::Created(_))));
    let [taken] = enqueued.taken.as_slice() else { panic!("the due job is taken, got {:?}", enqueued.taken) };
    assert_eq!(taken.job_id, new.job_id);
    assert_eq!((taken.state, taken.worker_id.as_deref(), taken.attempt), (JobState::Running, Some("w1"), 1));
    assert!(fetch(h, &queue, 4).await.is_empty(), "the taken job waits for no one else; the other is not due");
    complete(h, lease(taken)).await.expect("the taken job's lease holds");
    // Its queue had nothing left for other polls, so nobody was told to look. Changes arrive in commit order:
    // the completion's comes after anything the enqueue announced.
    let mut announced = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let change = changes.recv().await.expect("feed open");
            let finished = matches!(&change, Change::JobsFinished { job_ids, .. } if job_ids.contains(&taken.job_id));
            announced.push(change);
            if finished {
                break;
            }
        }
    })
    .await
    .expect("the completion is announced");
    assert!(
        !announced.iter().any(|change| matches!(change, Change::JobsAvailable { queue: q, .. } if *q == queue)),
        "no poll is woken for a job already taken: {announced:?}"
    );
    h.advance(Duration::from_secs(61));
    assert_eq!(fetch(h, &queue, 4).await[0].job_id, delayed.job_id, "the delayed job waits for its time");
}

pub async fn a_released_job_is_available_at_once_without_counting_the_attempt(h: &Harness) {
    let created = enqueue_one(h, job("q")).await;
    let taken = fetch(h, "q", 1).await.remove(0);
    let released = h.store.release_jobs(vec![lease(&taken)]).await.unwrap().remove(0).expect("released");
    assert_eq!((released.state, released.attempt), (JobState::Available, 0));
    assert_eq!(released.errors, created.errors, "a release records no failure");
    assert_stale(complete(h, lease(&taken)).await);
    let again = fetch(h, "q", 1).await.remove(0);
    assert_eq!((again.job_id, again.attempt), (created.job_id, 1));
    assert!(again.lease_token > taken.lease_token, "the next fetch draws a fresh token");
    assert_stale(h.store.release_jobs(vec![lease(&taken)]).await.unwrap().remove(0));
}

pub async fn a_released_job_leaves_the_rate_window_it_was_counted_in(h: &Harness) {
    let ns = Namespace::default();
    let first = enqueue_one(h, job("q")).await;
    let second = enqueue_one(h, job("q")).await;
    let limit = RateLimit { limit: 1, period_ms: 10_000 };
    h.store
        .update_queue(&ns, "q", QueueSettingsUpdate { rate_limit: Some(Some(limit)), ..Default::default() })
        .await
        .unwrap();
    let taken = fetch(h, "q", 1).await.remove(0);
    assert_eq!(taken.job_id, first.job_id);
    assert!(fetch(h, "q", 1).await.is_empty(), "the window's one start is used");
    h.store.release_jobs(vec![lease(&taken)]).await.unwrap().remove(0).expect("released");
    let again = fetch(h, "q", 1).await.remove(0);
    assert_eq!(again.job_id, first.job_id, "the released job never ran, so its start is given back");
    assert!(fetch(h, "q", 1).await.is_empty(), "and the fetch that took it again counted it");

    // Taken in a window that is over, a released job gives nothing back to the next one.
    h.advance(10 * SECOND);
    let next = fetch(h, "q", 1).await.remove(0);
    assert_eq!(next.job_id, second.job_id);
    h.store.release_jobs(vec![lease(&again)]).await.unwrap().remove(0).expect("released");
    assert!(fetch(h, "q", 1).await.is_empty(), "the new window's one start is used");
}

pub async fn batch_acks_report_each_item(h: &Harness) {
    enqueue(h, vec![job("q"), job("q")]).await;
    let running = fetch(h, "q", 2).await;
    let stale = LeaseRef { lease_token: LeaseToken(-7), ..lease(&running[1]) };
    let results = h
        .store
        .complete(vec![
            CompleteParams { lease: lease(&running[0]), result: None },
            CompleteParams { lease: stale, result: None },
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().map(|job| job.state).ok(), Some(JobState::Completed));
    assert!(matches!(results[1], Err(Error::StaleToken { .. })));
    assert_eq!(get(h, running[1].job_id).await.state, JobState::Running);
}

pub async fn jobs_list_by_filter_and_queues_count_by_state(h: &Harness) {
    let ns = Namespace::default();
    let tagged = enqueue_one(h, NewJob { tags: vec!["vip".into()], ..job("emails") }).await;
    enqueue_one(h, job("emails")).await;
    enqueue_one(h, NewJob { job_type: "resize".into(), ..job("images") }).await;
    let list = |params: ListJobsParams| h.store.list_jobs(params);
    let base = ListJobsParams { namespace: ns.clone(), limit: 10, ..ListJobsParams::default() };
    assert_eq!(list(base.clone()).await.unwrap().items.len(), 3);
    let by_tag = list(ListJobsParams { tag: Some("vip".into()), ..base.clone() }).await.unwrap();
    assert_eq!(by_tag.items.iter().map(|job| job.job_id).collect::<Vec<_>>(), vec![tagged.job_id]);
    let by_type = list(ListJobsParams { job_type: Some("resize".into()), ..base.clone() }).await.unwrap();
    assert_eq!(by_type.items[0].queue, "images");
    let page = list(ListJobsParams { queue: Some("emails".into()), limit: 1, ..base.clone() }).await.unwrap();
    assert_eq!((page.items.len(), page.next_cursor.is_some()), (1, true));
    let rest = list(ListJobsParams { queue: Some("emails".into()), after: Some(page.items[0].job_id), ..base.clone() });
    assert_eq!(rest.await.unwrap().items.len(), 1);
    let running = fetch(h, "emails", 1).await.remove(0);
    complete(h, lease(&running)).await.unwrap();
    let completed = list(ListJobsParams { state: Some(JobState::Completed), ..base }).await.unwrap();
    assert_eq!(completed.items.len(), 1);
    let queues = h.store.queues(&ns).await.unwrap();
    let emails = queues.iter().find(|queue| queue.queue == "emails").expect("emails listed");
    assert_eq!((emails.counts.get("completed"), emails.counts.get("available")), (Some(&1), Some(&1)));
    assert_eq!(emails.completed_last_minute, 1);
    assert_eq!(queues.len(), 2);
}

pub async fn finished_jobs_are_pruned_after_retention(h: &Harness) {
    enqueue(h, vec![job("q"), job("q")]).await;
    let running = fetch(h, "q", 1).await.remove(0);
    complete(h, lease(&running)).await.unwrap();
    h.advance(60 * SECOND);
    assert_eq!(h.store.prune_jobs(120_000, 100).await.unwrap(), 0, "not old enough");
    h.advance(61 * SECOND);
    assert_eq!(h.store.prune_jobs(120_000, 100).await.unwrap(), 1);
    assert!(h.store.get_job(&Namespace::default(), running.job_id).await.unwrap().is_none());
    let remaining = h.store.list_jobs(ListJobsParams { limit: 10, ..ListJobsParams::default() }).await.unwrap();
    assert_eq!(remaining.items.len(), 1, "unfinished jobs are kept");
}

pub async fn concurrent_fetches_never_share_a_job(h: &Harness) {
    enqueue(h, (0..200).map(|_| job("q")).collect()).await;
    let fetchers = (0..8).map(|worker| {
        let store = h.store.clone();
        tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let params = FetchParams { worker_id: format!("w{worker}"), ..fetch_params("q", 10) };
                let jobs = store.fetch(params).await.expect("fetch").jobs;
                if jobs.is_empty() {
                    return taken;
                }
                taken.extend(jobs.into_iter().map(|job| job.job_id));
            }
        })
    });
    let mut all = Vec::new();
    for fetcher in fetchers {
        all.extend(fetcher.await.expect("fetcher"));
    }
    let unique: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!((all.len(), unique.len()), (200, 200));
}

pub async fn change_feed_announces_available_and_finished_jobs(h: &Harness) {
    let mut changes = h.store.changes();
    enqueue_one(h, job("q")).await;
    let running = fetch(h, "q", 1).await.remove(0);
    complete(h, lease(&running)).await.unwrap();
    let (mut available, mut finished) = (false, false);
    tokio::time::timeout(Duration::from_secs(5), async {
        while !(available && finished) {
            match changes.recv().await.expect("feed open") {
                Change::JobsAvailable { queue, .. } if queue == "q" => available = true,
                Change::JobsFinished { job_ids, .. } if job_ids.contains(&running.job_id) => finished = true,
                _ => {}
            }
        }
    })
    .await
    .expect("both changes are announced");
}

/// A failed attempt that will retry tells idle pollers of its queue to look again (and wait for its backoff).
pub async fn a_retrying_job_is_announced_as_available_again(h: &Harness) {
    // A queue of its own: other tests' stores on the same PostgreSQL database announce on the same channel.
    let queue = format!("retry-{}", JobId::new());
    enqueue_one(h, job(&queue)).await;
    let running = fetch(h, &queue, 1).await.remove(0);
    let mut changes = h.store.changes();
    assert_eq!(fail(h, &running, false).await.state, JobState::Retryable);
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Change::JobsAvailable { queue: announced, .. } = changes.recv().await.expect("feed open")
                && announced == queue
            {
                return;
            }
        }
    })
    .await
    .expect("the retry is announced on its queue");
}

fn schedule(name: &str, cron: &str, overlap: Overlap) -> Schedule {
    let template = JobTemplate {
        job_type: "report".into(),
        payload: json!({"kind": "nightly"}),
        priority: 0,
        max_attempts: 3,
        backoff: Backoff::default(),
        timeout_ms: None,
        tags: vec!["cron".into()],
        metadata: None,
        concurrency_key: None,
        trace_context: None,
    };
    Schedule {
        namespace: Namespace::default(),
        name: name.into(),
        cron: cron.into(),
        timezone: "UTC".into(),
        queue: "reports".into(),
        template,
        overlap,
        paused: false,
        next_fire_at: None,
        last_fired_at: None,
        last_job_id: None,
        created_at: Timestamp(0),
    }
}

async fn queued_jobs(h: &Harness, queue: &str) -> Vec<Job> {
    let params = ListJobsParams { queue: Some(queue.into()), limit: 100, ..ListJobsParams::default() };
    h.store.list_jobs(params).await.unwrap().items
}

pub async fn schedules_fire_once_per_tick(h: &Harness) {
    let (saved, created) =
        h.store.save_schedule(schedule("every-10s", "*/10 * * * * *", Overlap::Allow)).await.unwrap();
    assert!(created);
    let first_tick = h.clock_now().plus(10 * SECOND);
    assert_eq!(saved.next_fire_at, Some(first_tick));
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 0, "not due yet");
    h.advance(10 * SECOND);
    let report = h.store.fire_due_schedules(10).await.unwrap();
    assert_eq!((report.fired, report.next_due_in_ms), (1, Some(10_000)));
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 0, "a tick fires once");
    let jobs = queued_jobs(h, "reports").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_id, tick_job_id(&Namespace::default(), "every-10s", first_tick));
    assert_eq!((jobs[0].job_type.as_str(), jobs[0].tags.clone()), ("report", vec!["cron".to_owned()]));
    let stored = h.store.get_schedule(&Namespace::default(), "every-10s").await.unwrap().unwrap();
    assert_eq!((stored.last_fired_at, stored.last_job_id), (Some(first_tick), Some(jobs[0].job_id)));
    // A server that was down for a minute fires the missed tick once and moves on.
    h.advance(60 * SECOND);
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 1);
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 0);
    assert_eq!(queued_jobs(h, "reports").await.len(), 2);
}

pub async fn schedules_skip_overlaps_pause_and_trigger(h: &Harness) {
    let ns = Namespace::default();
    h.store.save_schedule(schedule("skipper", "*/10 * * * * *", Overlap::Skip)).await.unwrap();
    h.advance(10 * SECOND);
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 1);
    h.advance(10 * SECOND);
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 0, "the last job has not finished");
    let running = fetch(h, "reports", 1).await.remove(0);
    complete(h, lease(&running)).await.unwrap();
    h.advance(10 * SECOND);
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 1, "fires again once it finished");

    let paused = h.store.set_schedule_paused(&ns, "skipper", true).await.unwrap();
    assert_eq!((paused.paused, paused.next_fire_at), (true, None));
    h.advance(60 * SECOND);
    assert_eq!(h.store.fire_due_schedules(10).await.unwrap().fired, 0);
    let triggered = h.store.trigger_schedule(&ns, "skipper").await.unwrap();
    assert_eq!((triggered.queue.as_str(), triggered.state), ("reports", JobState::Available));
    let resumed = h.store.set_schedule_paused(&ns, "skipper", false).await.unwrap();
    assert_eq!(resumed.next_fire_at, Some(h.clock_now().plus(10 * SECOND)));
    assert_eq!(h.store.list_schedules(&ns).await.unwrap().len(), 1);
    h.store.delete_schedule(&ns, "skipper").await.unwrap();
    assert!(h.store.get_schedule(&ns, "skipper").await.unwrap().is_none());
    assert!(h.store.delete_schedule(&ns, "skipper").await.is_err());
}
