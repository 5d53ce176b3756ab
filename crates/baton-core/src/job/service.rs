//! The job service: validates requests, calls the store, and waits where a caller asked to (a long-poll
//! fetch, a result), woken by the store's change feed on any node. Transports call it; it never touches SQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::select_all;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorCode, StoreError};
use crate::job::handoff::{IdlePolls, PollClaim};
use crate::job::job_type::ExecutorCheck;
use crate::job::model::{
    CompleteParams, EnqueueOutcome, EnqueueParams, EnqueuedTaking, FailParams, FetchParams, HeartbeatOutcome,
    HeartbeatParams, Job, JobId, JobState, LeaseRef, LeaseToken, ListJobsParams, QueueInfo, QueueSettings,
    QueueSettingsUpdate, RateLimit, RunAt,
};
use crate::job::spec::{JobSpec, MAX_DELAY, check_name, check_seconds, duration_ms, invalid};
use crate::limits::{Limits, replace_nul};
use crate::namespace::Namespace;
use crate::page::{Page, decode_cursor, page_size};
use crate::store::{Change, Followed, Store, follow_changes};
use crate::wakeups::Wakeups;

/// How often a long poll looks again if no wake-up arrives: the bounded safety net behind push wake-ups.
const POLL_SAFETY_NET: Duration = Duration::from_secs(1);
const DEFAULT_LEASE: Duration = Duration::from_secs(30);
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);
/// A failure message is cut to this length rather than refused: it often carries a long stack trace.
const MAX_ERROR_BYTES: usize = 4096;
const MAX_QUEUES_PER_FETCH: usize = 32;

#[derive(Clone, Debug, Default)]
pub struct FetchRequest {
    pub namespace: Namespace,
    pub queues: Vec<String>,
    pub worker_id: String,
    pub max_jobs: Option<u32>,
    pub wait: Option<Duration>,
    pub lease: Option<Duration>,
    pub job_types: Option<Vec<String>>,
    /// Jobs to complete before fetching, in the same transaction.
    pub complete: Vec<CompleteParams>,
    /// The fetcher runs in the process that owns the store (an embedded executor). See
    /// [`FetchParams::in_process`].
    pub in_process: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ListJobsRequest {
    pub namespace: Namespace,
    pub queue: Option<String>,
    pub state: Option<JobState>,
    pub job_type: Option<String>,
    pub tag: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A settings change as a client sends it; absent fields are kept.
#[derive(Clone, Debug, Default)]
pub struct QueueSettingsRequest {
    pub paused: Option<bool>,
    pub global_concurrency: Option<Option<u32>>,
    pub rate_limit: Option<Option<(u32, u64)>>,
    pub per_key_concurrency: Option<u32>,
}

#[derive(Clone)]
pub struct JobService {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Long polls of a queue, woken when jobs become available in it.
    queue_wakeups: Arc<Wakeups<(Namespace, String)>>,
    /// Long polls that a concurrency limit held back, woken when a job of the queue finishes.
    room_wakeups: Arc<Wakeups<(Namespace, String)>>,
    finish_wakeups: Arc<Wakeups<JobId>>,
    /// In-process long polls waiting on one queue, which a start in this process may hand its run to.
    idle_polls: Arc<IdlePolls>,
    executor_check: Option<Arc<dyn ExecutorCheck>>,
}

impl JobService {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self {
            store,
            limits,
            queue_wakeups: Arc::default(),
            room_wakeups: Arc::default(),
            finish_wakeups: Arc::default(),
            idle_polls: Arc::default(),
            executor_check: None,
        }
    }

    /// Lets the service accept job types for the executors the server has built in.
    pub fn with_executor_check(mut self, check: Arc<dyn ExecutorCheck>) -> Self {
        self.executor_check = Some(check);
        self
    }

    pub(crate) fn executor_check(&self) -> Option<&Arc<dyn ExecutorCheck>> {
        self.executor_check.as_ref()
    }

    /// Forwards the store's changes to this node's long polls and result waiters until shutdown.
    pub async fn run_wakeups(&self, shutdown: CancellationToken) {
        follow_changes(self.store.changes(), shutdown, |followed| match followed {
            Followed::Change(Change::JobsAvailable { namespace, queue }) => {
                // Before the wake-up: a poll that checks availability after enabling its wake-up misses neither.
                self.idle_polls.availability_changed();
                self.queue_wakeups.wake(&(namespace, queue));
            }
            Followed::Change(Change::JobsFinished { namespace, queue, job_ids }) => {
                self.room_wakeups.wake(&(namespace, queue));
                for job_id in job_ids {
                    self.finish_wakeups.wake(&job_id);
                }
            }
            Followed::Change(_) => {}
            Followed::Lost => {
                self.idle_polls.availability_changed();
                self.queue_wakeups.wake_all();
                self.room_wakeups.wake_all();
                self.finish_wakeups.wake_all();
            }
        })
        .await;
    }

    /// Enqueues a batch atomically: every job is validated first, and one invalid job refuses the batch.
    pub async fn enqueue(&self, namespace: Namespace, specs: Vec<JobSpec>) -> Result<Vec<EnqueueOutcome>, Error> {
        if specs.is_empty() {
            return Err(Error::invalid(ErrorCode::InvalidArgument, "a batch needs at least one job"));
        }
        self.limits.check_batch(specs.len())?;
        let batch = specs.len() > 1;
        let jobs = specs
            .into_iter()
            .enumerate()
            .map(|(index, spec)| {
                self.validate_job(spec).map_err(|error| match error {
                    Error::Invalid { code, message } if batch => {
                        Error::invalid(code, format!("jobs[{index}]: {message}"))
                    }
                    other => other,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let params = EnqueueParams { namespace, jobs };
        let outcomes = match self.claim_poll_for(&params) {
            None => self.store.enqueue(params).await?,
            // On a task of its own: a caller that stops waiting must not strand the jobs, which the enqueue may
            // commit all the same, leased to the poll's worker; only this task can deliver them.
            Some(claim) => match tokio::spawn(self.clone().enqueue_handing_over(params, claim)).await {
                Ok(outcomes) => outcomes?,
                Err(error) => {
                    return Err(StoreError::Internal(format!("the enqueue's hand-off failed: {error}")).into());
                }
            },
        };
        let created = outcomes.iter().filter(|outcome| matches!(outcome, EnqueueOutcome::Created(_))).count();
        metrics::counter!("baton_jobs_enqueued_total").increment(created as u64);
        Ok(outcomes)
    }

    /// An idle poll of this node that could take the batch's first job due now.
    fn claim_poll_for(&self, params: &EnqueueParams) -> Option<PollClaim> {
        let due = params.jobs.iter().find(|job| matches!(job.run_at, RunAt::Now))?;
        self.idle_polls.claim(&params.namespace, &due.queue, &due.job_type, false)
    }

    /// Enqueues, fetching for the claimed poll in the same transaction, and hands it what that fetch took.
    async fn enqueue_handing_over(self, params: EnqueueParams, claim: PollClaim) -> Result<Vec<EnqueueOutcome>, Error> {
        let EnqueuedTaking { outcomes, taken } = self.store.enqueue_taking(params, claim.fetch_params()).await?;
        let count = taken.len() as u64;
        match claim.deliver(taken) {
            Ok(()) => metrics::counter!("baton_jobs_handed_over_total").increment(count),
            Err(taken) => self.hand_back(taken).await,
        }
        Ok(outcomes)
    }

    /// Gives back jobs taken for a poll that stopped waiting before it got them: available again at once, the
    /// attempt not counted. On failure they come back when their lease lapses, as a lost fetch answer's would.
    pub async fn hand_back(&self, taken: Vec<Job>) {
        let leases: Vec<LeaseRef> = taken.iter().filter_map(Job::lease).collect();
        if leases.is_empty() {
            return;
        }
        match self.store.release_jobs(leases).await {
            Ok(outcomes) => {
                for refused in outcomes.into_iter().filter_map(Result::err) {
                    tracing::warn!(error = %refused, "a job taken for a departed poll was not handed back");
                }
            }
            Err(error) => tracing::warn!(%error, "handing jobs back failed; they return once their lease lapses"),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Takes up to `max_jobs` due jobs, after completing `request.complete` in the same transaction. With a
    /// wait, a poll that finds none sleeps until a job is enqueued on any node (or becomes due, or the wait
    /// ends) and looks again. A poll of one queue may instead be handed jobs that an enqueue on this node took
    /// for it (an in-process poll also those of a workflow start, [`Self::claim_idle_poll`]). Returns the jobs
    /// and the outcome of each completion.
    pub async fn fetch(&self, request: FetchRequest) -> Result<(Vec<Job>, Vec<Result<Job, Error>>), Error> {
        if request.queues.is_empty() || request.queues.len() > MAX_QUEUES_PER_FETCH {
            return Err(invalid(format!("fetch from 1 to {MAX_QUEUES_PER_FETCH} queues")));
        }
        for queue in &request.queues {
            check_name("queue", queue)?;
        }
        self.limits.check_owner("worker_id", &request.worker_id)?;
        let max_jobs = request.max_jobs.unwrap_or(1);
        if max_jobs == 0 || max_jobs > self.limits.max_fetch {
            return Err(Error::invalid(
                ErrorCode::BatchTooLarge,
                format!("max_jobs must be between 1 and {}", self.limits.max_fetch),
            ));
        }
        let wait = self.check_wait(request.wait)?;
        if let Some(types) = &request.job_types {
            if types.is_empty() || types.len() > MAX_QUEUES_PER_FETCH {
                return Err(invalid(format!("fetch 1 to {MAX_QUEUES_PER_FETCH} types")));
            }
            for job_type in types {
                check_name("type", job_type)?;
            }
        }
        self.check_completions(&request.complete)?;
        let lease = request.lease.unwrap_or(DEFAULT_LEASE);
        let lease_ms = check_seconds("lease_seconds", lease.as_secs(), MAX_LEASE)?;
        let mut params = FetchParams {
            namespace: request.namespace.clone(),
            queues: request.queues,
            worker_id: request.worker_id,
            max_jobs,
            lease_ms,
            job_types: request.job_types,
            complete: request.complete,
            in_process: request.in_process,
        };
        let started = Instant::now();
        let deadline = started + wait;
        // Watched before the first look, so an enqueue (or a finish) committed right after it is not missed.
        let watch = |wakeups: &Arc<Wakeups<(Namespace, String)>>| -> Vec<_> {
            if wait.is_zero() {
                return Vec::new();
            }
            params.queues.iter().map(|queue| wakeups.watch((params.namespace.clone(), queue.clone()))).collect()
        };
        let (available, room) = (watch(&self.queue_wakeups), watch(&self.room_wakeups));
        let mut completed = Vec::new();
        let mut first = !wait.is_zero();
        loop {
            let mut available_now: Vec<_> = available.iter().map(|watch| Box::pin(watch.notify.notified())).collect();
            let mut room_now: Vec<_> = room.iter().map(|watch| Box::pin(watch.notify.notified())).collect();
            for wake in available_now.iter_mut().chain(room_now.iter_mut()) {
                wake.as_mut().enable();
            }
            // Checked once the wake-ups are enabled: a job enqueued after this check wakes the poll.
            let known_empty = if std::mem::take(&mut first) { self.idle_polls.known_empty(&params) } else { None };
            let (look_again, held_back) = match known_empty {
                Some(until) => (until.min(deadline), false),
                None => {
                    let availability = self.idle_polls.availability();
                    // The first look carries the completions; later looks only fetch.
                    let carrying = !params.complete.is_empty();
                    let look = FetchParams { complete: std::mem::take(&mut params.complete), ..params.clone() };
                    let outcome = self.store.fetch(look).await?;
                    if carrying {
                        completed = outcome.completed;
                        count_completions(&completed);
                    }
                    let now = Instant::now();
                    if !outcome.jobs.is_empty() || now >= deadline {
                        metrics::counter!("baton_jobs_fetched_total").increment(outcome.jobs.len() as u64);
                        metrics::histogram!("baton_job_fetch_wait_seconds").record(started.elapsed().as_secs_f64());
                        return Ok((outcome.jobs, completed));
                    }
                    let due = outcome.next_due_in_ms.map_or(POLL_SAFETY_NET, |ms| {
                        Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(POLL_SAFETY_NET)
                    });
                    if !outcome.held_back {
                        self.idle_polls.remember_empty(&params, availability, now + due);
                    }
                    ((now + due).min(deadline), outcome.held_back)
                }
            };
            // A finishing job wakes this poll only when a limit held jobs back: otherwise it changes nothing here.
            let mut wakes = available_now;
            if held_back {
                wakes.append(&mut room_now);
            }
            // A poll held back by a limit is not offered: a fetch for it would find the same limit.
            let parked = if held_back { None } else { self.idle_polls.park(&params) };
            let handed_over = async {
                match &parked {
                    Some(parked) => parked.handed_over().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = select_all(wakes) => {}
                () = tokio::time::sleep_until(look_again.into()) => {}
                () = handed_over => {}
            }
            if let Some(parked) = parked
                && let Some(jobs) = parked.leave().await
            {
                metrics::counter!("baton_jobs_fetched_total").increment(jobs.len() as u64);
                metrics::histogram!("baton_job_fetch_wait_seconds").record(started.elapsed().as_secs_f64());
                return Ok((jobs, completed));
            }
        }
    }

    /// Claims an idle long poll of this process (an embedded executor's) on `queue` that takes `job_type`:
    /// the caller fetches for it in its own transaction and delivers what it took. See [`PollClaim`].
    pub fn claim_idle_poll(&self, namespace: &Namespace, queue: &str, job_type: &str) -> Option<PollClaim> {
        self.idle_polls.claim(namespace, queue, job_type, true)
    }

    pub async fn heartbeat(
        &self,
        lease: LeaseRef,
        progress: Option<Value>,
        extend: Option<Duration>,
    ) -> Result<HeartbeatOutcome, Error> {
        self.check_json_size("progress", progress.as_ref())?;
        let extend_ms =
            extend.map(|extend| check_seconds("extend_seconds", extend.as_secs(), MAX_LEASE)).transpose()?;
        self.store.heartbeat(HeartbeatParams { lease, progress, extend_ms }).await
    }

    pub async fn complete(&self, items: Vec<CompleteParams>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.check_completions(&items)?;
        let results = self.store.complete(items).await?;
        count_completions(&results);
        Ok(results)
    }

    fn check_completions(&self, items: &[CompleteParams]) -> Result<(), Error> {
        self.limits.check_batch(items.len())?;
        for item in items {
            self.check_json_size("result", item.result.as_ref())?;
        }
        Ok(())
    }

    pub async fn fail(&self, mut items: Vec<FailParams>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.limits.check_batch(items.len())?;
        for item in &mut items {
            truncate_utf8(&mut item.error, MAX_ERROR_BYTES);
            replace_nul(&mut item.error);
            if let Some(retry_in) = item.retry_in_ms
                && !(0..=duration_ms(MAX_DELAY)).contains(&retry_in)
            {
                return Err(invalid(format!("retry_in_ms must be between 0 and {}", duration_ms(MAX_DELAY))));
            }
        }
        let results = self.store.fail(items).await?;
        metrics::counter!("baton_jobs_failed_total").increment(results.iter().filter(|r| r.is_ok()).count() as u64);
        Ok(results)
    }

    pub async fn cancel(&self, namespace: &Namespace, job_id: &str) -> Result<Job, Error> {
        self.store.cancel_job(namespace, parse_job_id(job_id)?).await
    }

    pub async fn retry(&self, namespace: &Namespace, job_id: &str) -> Result<Job, Error> {
        self.store.retry_job(namespace, parse_job_id(job_id)?).await
    }

    pub async fn get(&self, namespace: &Namespace, job_id: &str) -> Result<Job, Error> {
        let job_id = parse_job_id(job_id)?;
        self.store.get_job(namespace, job_id).await?.ok_or_else(|| Error::JobNotFound { job_id: job_id.to_string() })
    }

    /// The job once it is finished, or as it stands when `wait` ends.
    pub async fn result(&self, namespace: &Namespace, job_id: &str, wait: Option<Duration>) -> Result<Job, Error> {
        let wait = self.check_wait(wait)?;
        let job_id = parse_job_id(job_id)?;
        self.wait_for_finish(namespace, job_id, Instant::now() + wait).await
    }

    /// Waits until the job is finished or `deadline` passes, then answers with the job as it stands.
    pub async fn wait_for_finish(&self, namespace: &Namespace, job_id: JobId, deadline: Instant) -> Result<Job, Error> {
        let watch = self.finish_wakeups.watch(job_id);
        loop {
            let notified = watch.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let job = self
                .store
                .get_job(namespace, job_id)
                .await?
                .ok_or_else(|| Error::JobNotFound { job_id: job_id.to_string() })?;
            let now = Instant::now();
            if job.state.is_terminal() || now >= deadline {
                return Ok(job);
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until((now + POLL_SAFETY_NET).min(deadline).into()) => {}
            }
        }
    }

    pub async fn list(&self, request: ListJobsRequest) -> Result<Page<Job>, Error> {
        let limit = page_size(request.limit)?;
        let after = match request.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => {
                let parts = decode_cursor(cursor, 1)?;
                Some(JobId::parse(&parts[0]).ok_or_else(|| invalid("cursor is not one this server issued"))?)
            }
        };
        for (what, name) in [("queue", &request.queue), ("type", &request.job_type), ("tag", &request.tag)] {
            if let Some(name) = name {
                check_name(what, name)?;
            }
        }
        let params = ListJobsParams {
            namespace: request.namespace,
            queue: request.queue,
            state: request.state,
            job_type: request.job_type,
            tag: request.tag,
            after,
            limit,
        };
        self.store.list_jobs(params).await
    }

    pub async fn queues(&self, namespace: &Namespace) -> Result<Vec<QueueInfo>, Error> {
        self.store.queues(namespace).await
    }

    pub async fn update_queue(
        &self,
        namespace: &Namespace,
        queue: &str,
        request: QueueSettingsRequest,
    ) -> Result<QueueSettings, Error> {
        check_name("queue", queue)?;
        let positive = |what: &str, value: u32| {
            if value == 0 { Err(invalid(format!("{what} must be at least 1"))) } else { Ok(value) }
        };
        let global_concurrency = match request.global_concurrency {
            Some(Some(limit)) => Some(Some(positive("global_concurrency", limit)?)),
            other => other,
        };
        let rate_limit = match request.rate_limit {
            Some(Some((limit, period_seconds))) => {
                let limit = positive("rate_limit.limit", limit)?;
                let period_ms = check_seconds("rate_limit.period_seconds", period_seconds, MAX_LEASE)?;
                Some(Some(RateLimit { limit, period_ms }))
            }
            Some(None) => Some(None),
            None => None,
        };
        let per_key_concurrency =
            request.per_key_concurrency.map(|limit| positive("per_key_concurrency", limit)).transpose()?;
        let update =
            QueueSettingsUpdate { paused: request.paused, global_concurrency, rate_limit, per_key_concurrency };
        self.store.update_queue(namespace, queue, update).await
    }

    /// Validates a requested wait against the longest poll allowed.
    pub fn check_wait(&self, wait: Option<Duration>) -> Result<Duration, Error> {
        let wait = wait.unwrap_or_default();
        if wait > self.limits.max_poll {
            return Err(invalid(format!("wait_ms must be at most {}", duration_ms(self.limits.max_poll))));
        }
        Ok(wait)
    }

    pub(crate) fn check_json_size(&self, what: &str, value: Option<&Value>) -> Result<(), Error> {
        self.limits.check_payload(what, value)
    }
}

fn count_completions(results: &[Result<Job, Error>]) {
    metrics::counter!("baton_jobs_completed_total").increment(results.iter().filter(|r| r.is_ok()).count() as u64);
}

fn truncate_utf8(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let cut = (0..=max_bytes).rev().find(|&index| text.is_char_boundary(index)).unwrap_or(0);
        text.truncate(cut);
    }
}

fn parse_job_id(raw: &str) -> Result<JobId, Error> {
    JobId::parse(raw).ok_or_else(|| Error::JobNotFound { job_id: raw.to_owned() })
}

/// A lease reference from a client's job id and token.
pub fn lease_ref(namespace: Namespace, job_id: &str, lease_token: i64) -> Result<LeaseRef, Error> {
    Ok(LeaseRef { namespace, job_id: parse_job_id(job_id)?, lease_token: LeaseToken(lease_token) })
}
