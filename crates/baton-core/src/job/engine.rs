//! The job rules, written once for every backend: enqueue with unique keys, fetch under a queue's limits,
//! and every transition a worker, an operator or lease expiry makes.
//!
//! As with locks, a backend wraps its transaction in a type that implements [`JobTx`] and calls these
//! functions; they never commit. Every transition reads the job with [`JobTx::job_for_update`] (which holds
//! the row until commit on a cluster), changes it in memory with [`crate::job::rules`], and writes it back
//! with [`JobTx::update_job`].
//!
//! Every path that finalizes a job (complete, fail, cancel, lease expiry) hands the job to
//! [`saga_engine::on_job_finalized`] and [`workflow_engine::on_run_finalized`] in the same transaction, so a saga
//! step's end moves its saga, and a workflow run's end ends its workflow, exactly once.
//!
//! **Invariant:** a call acting under a lease changes a job only if the job is running under exactly that
//! lease token; a stale token changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::job::model::{
    CompleteParams, EnqueueOutcome, EnqueueParams, EnqueuedTaking, FailParams, FetchOutcome, FetchParams,
    HeartbeatOutcome, HeartbeatParams, Job, JobExpiryReport, JobId, JobState, LeaseRef, LeaseToken, NewJob, OnConflict,
    QueueSettings, QueueSettingsUpdate, RunAt,
};
use crate::job::rules::{self, AttemptFailure};
use crate::namespace::Namespace;
use crate::saga::engine::{self as saga_engine, SagaTx};
use crate::store::{Applied, Change};
use crate::workflow::engine as workflow_engine;

/// How many due jobs one fetch makes available at most; more wait for the next fetch.
const PROMOTE_PER_FETCH: u32 = 1000;

/// The statements a backend offers inside one transaction.
#[allow(async_fn_in_trait)]
pub trait JobTx {
    /// The instant this transaction decides with; the same value for the whole transaction.
    async fn now(&mut self) -> Result<Timestamp, StoreError>;
    /// Serialises enqueues of this unique key until the transaction ends.
    async fn lock_unique_key(&mut self, namespace: &Namespace, queue: &str, key: &str) -> Result<(), StoreError>;
    /// The newest job with this unique key in one of `states`, created at or after `created_since`.
    async fn find_unique(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        key: &str,
        states: &[JobState],
        created_since: Option<Timestamp>,
    ) -> Result<Option<Job>, StoreError>;
    async fn insert_jobs(&mut self, jobs: &[Job]) -> Result<(), StoreError>;
    /// The queue's stored settings, if any were ever set.
    async fn queue_settings(&mut self, namespace: &Namespace, queue: &str)
    -> Result<Option<QueueSettings>, StoreError>;
    /// Serialises fetches from this queue until the transaction ends (needed only to count under limits).
    async fn lock_queue(&mut self, namespace: &Namespace, queue: &str) -> Result<(), StoreError>;
    /// A fetch's first look at its queue: unless the queue is paused, up to `limit` of its scheduled or retryable
    /// jobs that are due at `now` become available; then its settings ([`Self::queue_settings`]). A backend may
    /// bring [`Self::next_run_at`] along.
    async fn look_at_queue(&mut self, namespace: &Namespace, queue: &str, limit: u32) -> Result<QueueLook, StoreError>;
    /// Available jobs, best first (priority, then `run_at`, then age), that no concurrent fetch holds; with
    /// `skip_keys_running`, none whose concurrency key already has that many running jobs.
    async fn fetch_candidates(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        job_types: Option<&[String]>,
        skip_keys_running: Option<u32>,
        limit: u32,
    ) -> Result<Vec<(JobId, Option<String>)>, StoreError>;
    async fn running_count(&mut self, namespace: &Namespace, queue: &str) -> Result<u64, StoreError>;
    async fn running_per_key(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        keys: &[String],
    ) -> Result<HashMap<String, u64>, StoreError>;
    /// Claims the best available jobs, as [`Self::fetch_candidates`] finds them (without `skip_keys_running`),
    /// unless one of them has a concurrency key: then it claims none and says how many it found, still held, for
    /// the caller to pick within the key limits. A backend may do it all in one statement.
    async fn claim_unkeyed(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        job_types: Option<&[String]>,
        limit: u32,
        worker_id: &str,
        lease_ms: i64,
    ) -> Result<UnkeyedClaim, StoreError> {
        let candidates = self.fetch_candidates(namespace, queue, job_types, None, limit).await?;
        if candidates.iter().any(|(_, key)| key.is_some()) {
            return Ok(UnkeyedClaim::Keyed { available: candidates.len() });
        }
        let ids: Vec<JobId> = candidates.into_iter().map(|(id, _)| id).collect();
        Ok(UnkeyedClaim::Claimed(self.claim(namespace, &ids, worker_id, lease_ms).await?))
    }
    /// Starts an attempt of each job for `worker_id`, drawing a fresh lease token for each, and returns them.
    async fn claim(
        &mut self,
        namespace: &Namespace,
        job_ids: &[JobId],
        worker_id: &str,
        lease_ms: i64,
    ) -> Result<Vec<Job>, StoreError>;
    /// The earliest `run_at` among the queue's scheduled and retryable jobs.
    async fn next_run_at(&mut self, namespace: &Namespace, queue: &str) -> Result<Option<Timestamp>, StoreError>;
    async fn save_queue_settings(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        settings: &QueueSettings,
    ) -> Result<(), StoreError>;
    /// Reads a job and holds it until the transaction ends.
    async fn job_for_update(&mut self, namespace: &Namespace, job_id: JobId) -> Result<Option<Job>, StoreError>;
    /// Writes back every field a transition may change.
    async fn update_job(&mut self, job: &Job) -> Result<(), StoreError>;
    /// Reads jobs (`job_ids` sorted) and holds them until the transaction ends; missing ids are left out.
    async fn jobs_for_update(&mut self, namespace: &Namespace, job_ids: &[JobId]) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::with_capacity(job_ids.len());
        for &job_id in job_ids {
            jobs.extend(self.job_for_update(namespace, job_id).await?);
        }
        Ok(jobs)
    }
    /// Writes back many jobs, as [`JobTx::update_job`] does one.
    async fn update_jobs(&mut self, jobs: &[Job]) -> Result<(), StoreError> {
        for job in jobs {
            self.update_job(job).await?;
        }
        Ok(())
    }
    /// Running jobs whose lease or timeout lapsed at `now`, held until the transaction ends.
    async fn lapsed_running(&mut self, limit: u32) -> Result<Vec<Job>, StoreError>;
    /// The earliest instant a running job's lease or timeout lapses.
    async fn next_lapse(&mut self) -> Result<Option<Timestamp>, StoreError>;
}

/// Inserts new jobs, or finds the job each unique key already names. Returns outcomes in request order.
pub async fn enqueue<T: JobTx>(tx: &mut T, params: &EnqueueParams) -> Result<Applied<Vec<EnqueueOutcome>>, Error> {
    let now = tx.now().await?;
    let namespace = &params.namespace;
    let mut outcomes = Vec::with_capacity(params.jobs.len());
    let mut inserted = Vec::new();
    // Unique keys repeated inside one batch resolve to the first job that carries them.
    let mut batch_unique: HashMap<(&str, &str), usize> = HashMap::new();
    for new in &params.jobs {
        if let Some(unique) = &new.unique {
            if let Some(&index) = batch_unique.get(&(new.queue.as_str(), unique.key.as_str())) {
                let existing: &Job = &inserted[index];
                outcomes.push(duplicate(existing.clone(), unique.on_conflict, &unique.key)?);
                continue;
            }
            tx.lock_unique_key(namespace, &new.queue, &unique.key).await?;
            let since = unique.for_ms.map(|ms| Timestamp(now.0.saturating_sub(ms)));
            if let Some(existing) = tx.find_unique(namespace, &new.queue, &unique.key, &unique.states, since).await? {
                outcomes.push(duplicate(existing, unique.on_conflict, &unique.key)?);
                continue;
            }
            batch_unique.insert((new.queue.as_str(), unique.key.as_str()), inserted.len());
        }
        let job = new_job_record(namespace, new, now);
        outcomes.push(EnqueueOutcome::Created(job.clone()));
        inserted.push(job);
    }
    tx.insert_jobs(&inserted).await?;
    let available: BTreeSet<&str> =
        inserted.iter().filter(|job| job.state == JobState::Available).map(|job| job.queue.as_str()).collect();
    let changes = available
        .into_iter()
        .map(|queue| Change::JobsAvailable { namespace: namespace.clone(), queue: queue.to_owned() })
        .collect();
    Ok(Applied::with(outcomes, changes))
}

/// What a fetch's first look at a queue found ([`JobTx::look_at_queue`]).
#[derive(Clone, Debug)]
pub struct QueueLook {
    pub settings: QueueSettings,
    /// When the queue's next job not yet due is due, as of the look.
    pub next_due: NextDue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextDue {
    /// The look did not read it: [`JobTx::next_run_at`] tells.
    Unread,
    /// `None`: no job of the queue waits for its time.
    Known(Option<Timestamp>),
}

/// What [`JobTx::claim_unkeyed`] did.
#[derive(Debug)]
pub enum UnkeyedClaim {
    /// The jobs claimed, best first.
    Claimed(Vec<Job>),
    /// A candidate had a concurrency key, so none was claimed; `available` candidates were found.
    Keyed { available: usize },
}

/// Enqueues, then fetches with `fetch` (an idle poll's own fetch) in the same transaction: a job due now goes
/// straight to a waiting worker, with one commit and no wake-up.
pub async fn enqueue_taking<T: SagaTx>(
    tx: &mut T,
    params: &EnqueueParams,
    fetch: &FetchParams,
) -> Result<Applied<EnqueuedTaking>, Error> {
    // The poll's first look at its queue comes first: on a backend whose reads bring its clock, the enqueue then
    // needs no round trip of its own for the time.
    let first_queue = fetch.queues.first();
    let mut first_look = match first_queue {
        Some(queue) => Some(tx.look_at_queue(&fetch.namespace, queue, PROMOTE_PER_FETCH).await?),
        None => None,
    };
    let Applied { value: outcomes, mut changes } = enqueue(tx, params).await?;
    // A job of the poll's queue enqueued for later may be its next due one: the look did not see it.
    if let (Some(look), Some(queue)) = (first_look.as_mut(), first_queue)
        && outcomes.iter().any(|outcome| {
            matches!(outcome, EnqueueOutcome::Created(job) if job.state == JobState::Scheduled && job.queue == *queue)
        })
    {
        look.next_due = NextDue::Unread;
    }
    let Applied { value: fetched, changes: fetch_changes } = fetch_knowing(tx, fetch, first_look).await?;
    // A queue whose new jobs were all taken has nothing for other polls: waking them would only send them
    // looking.
    let taken: HashSet<JobId> = fetched.jobs.iter().map(|job| job.job_id).collect();
    changes.retain(|change| match change {
        Change::JobsAvailable { queue, .. } => outcomes.iter().any(|outcome| {
            matches!(outcome, EnqueueOutcome::Created(job)
                if job.state == JobState::Available && job.queue == *queue && !taken.contains(&job.job_id))
        }),
        _ => true,
    });
    changes.extend(fetch_changes);
    Ok(Applied::with(EnqueuedTaking { outcomes, taken: fetched.jobs }, changes))
}

fn duplicate(existing: Job, on_conflict: OnConflict, key: &str) -> Result<EnqueueOutcome, Error> {
    match on_conflict {
        OnConflict::Existing => Ok(EnqueueOutcome::Duplicate(existing)),
        OnConflict::Reject => Err(Error::DuplicateJob {
            job_id: existing.job_id.to_string(),
            unique_key: key.to_owned(),
            state: existing.state,
        }),
    }
}

fn new_job_record(namespace: &Namespace, new: &NewJob, now: Timestamp) -> Job {
    let run_at = match new.run_at {
        RunAt::Now => now,
        RunAt::After { delay_ms } => Timestamp(now.0.saturating_add(delay_ms)),
        RunAt::At(at) => at,
    };
    Job {
        job_id: new.job_id,
        namespace: namespace.clone(),
        queue: new.queue.clone(),
        job_type: new.job_type.clone(),
        payload: new.payload.clone(),
        priority: new.priority,
        state: if run_at > now { JobState::Scheduled } else { JobState::Available },
        attempt: 0,
        max_attempts: new.max_attempts,
        backoff: new.backoff,
        timeout_ms: new.timeout_ms,
        run_at,
        lease_token: None,
        lease_ms: None,
        lease_expires_at: None,
        worker_id: None,
        heartbeat_at: None,
        progress: None,
        result: None,
        errors: Vec::new(),
        unique_key: new.unique.as_ref().map(|unique| unique.key.clone()),
        concurrency_key: new.concurrency_key.clone(),
        tags: new.tags.clone(),
        metadata: new.metadata.clone(),
        trace_context: new.trace_context.clone(),
        cancel_requested: false,
        created_at: now,
        attempted_at: None,
        finalized_at: None,
    }
}

/// Takes up to `max_jobs` due jobs from the queues, in order, within each queue's limits.
pub async fn fetch<T: SagaTx>(tx: &mut T, params: &FetchParams) -> Result<Applied<FetchOutcome>, Error> {
    fetch_knowing(tx, params, None).await
}

/// [`fetch`], given its first look at its first queue when this transaction took it already.
async fn fetch_knowing<T: SagaTx>(
    tx: &mut T,
    params: &FetchParams,
    mut first_look: Option<QueueLook>,
) -> Result<Applied<FetchOutcome>, Error> {
    let namespace = &params.namespace;
    let (completed, changes) = if params.complete.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let Applied { value, changes } = complete(tx, &params.complete).await?;
        (value, changes)
    };
    let mut fetched = Vec::new();
    let mut held_back = false;
    let mut next_dues = Vec::with_capacity(params.queues.len());
    for queue in &params.queues {
        let wanted = params.max_jobs.saturating_sub(u32::try_from(fetched.len()).unwrap_or(u32::MAX));
        if wanted == 0 {
            break;
        }
        // Due jobs join the available ones here, so an idle queue needs no background stager.
        let look = match first_look.take() {
            Some(look) => look,
            None => tx.look_at_queue(namespace, queue, PROMOTE_PER_FETCH).await?,
        };
        next_dues.push(look.next_due);
        let taken = fetch_from_queue(tx, namespace, queue, wanted, params, look.settings).await?;
        held_back |= taken.held_back;
        fetched.extend(taken.jobs);
    }
    let mut next_run_at: Option<Timestamp> = None;
    if fetched.is_empty() {
        for (queue, next_due) in params.queues.iter().zip(next_dues) {
            let next = match next_due {
                NextDue::Known(next) => next,
                NextDue::Unread => tx.next_run_at(namespace, queue).await?,
            };
            if let Some(next) = next {
                next_run_at = Some(next_run_at.map_or(next, |earliest| earliest.min(next)));
            }
        }
    }
    let now = tx.now().await?;
    let next_due_in_ms = next_run_at.map(|at| at.0.saturating_sub(now.0).max(0));
    Ok(Applied::with(FetchOutcome { jobs: fetched, completed, next_due_in_ms, held_back }, changes))
}

/// The jobs one queue gave a fetch, and whether its concurrency limits held some back.
struct Taken {
    jobs: Vec<Job>,
    held_back: bool,
}

async fn fetch_from_queue<T: JobTx>(
    tx: &mut T,
    namespace: &Namespace,
    queue: &str,
    wanted: u32,
    params: &FetchParams,
    mut settings: QueueSettings,
) -> Result<Taken, Error> {
    if settings.paused {
        return Ok(Taken { jobs: Vec::new(), held_back: false });
    }
    let mut queue_locked = false;
    let mut allowance = wanted;
    if settings.limits_fetch() {
        tx.lock_queue(namespace, queue).await?;
        queue_locked = true;
        // Read again under the lock: the rate window may have moved while this fetch waited for it.
        settings = tx.queue_settings(namespace, queue).await?.unwrap_or_else(QueueSettings::new);
        let running = if settings.global_concurrency.is_some() { tx.running_count(namespace, queue).await? } else { 0 };
        allowance = rules::fetch_allowance(&settings, wanted, running, tx.now().await?);
        if allowance == 0 {
            return Ok(Taken { jobs: Vec::new(), held_back: settings.global_concurrency.is_some() });
        }
    }
    let types = params.job_types.as_deref();
    let available =
        match tx.claim_unkeyed(namespace, queue, types, allowance, &params.worker_id, params.lease_ms).await? {
            UnkeyedClaim::Claimed(jobs) => {
                count_in_rate_window(tx, namespace, queue, &mut settings, jobs.len()).await?;
                // Only the queue's own limit can have cut this fetch short (the candidates are all it allowed).
                let held_back = settings.global_concurrency.is_some() && allowance < wanted;
                return Ok(Taken { jobs, held_back });
            }
            UnkeyedClaim::Keyed { available } => available,
        };
    // Counting running jobs per key is only sound while no other node fetches from the queue.
    if !queue_locked {
        tx.lock_queue(namespace, queue).await?;
    }
    // Jobs of keys at their limit are left out, so they cannot starve the jobs behind them; the lookahead
    // leaves room for several jobs of one key among the rest.
    let lookahead = allowance.saturating_mul(4).min(1000);
    let candidates =
        tx.fetch_candidates(namespace, queue, types, Some(settings.per_key_concurrency), lookahead).await?;
    let keys: Vec<String> =
        candidates.iter().filter_map(|(_, key)| key.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let running = tx.running_per_key(namespace, queue, &keys).await?;
    let picked = rules::pick_within_key_limits(&candidates, &running, settings.per_key_concurrency, allowance);
    // Short of what was available and allowed: the rest were of keys at their limit.
    let held_back = picked.len() < available.min(allowance as usize);
    let jobs = tx.claim(namespace, &picked, &params.worker_id, params.lease_ms).await?;
    count_in_rate_window(tx, namespace, queue, &mut settings, jobs.len()).await?;
    Ok(Taken { jobs, held_back })
}

/// Under a rate limit, counts `claimed` jobs in the queue's window (the queue is locked then).
async fn count_in_rate_window<T: JobTx>(
    tx: &mut T,
    namespace: &Namespace,
    queue: &str,
    settings: &mut QueueSettings,
    claimed: usize,
) -> Result<(), Error> {
    if settings.rate_limit.is_some() && claimed > 0 {
        let mut window = rules::current_window(settings, tx.now().await?);
        window.taken = window.taken.saturating_add(u32::try_from(claimed).unwrap_or(u32::MAX));
        settings.rate_window = window;
        tx.save_queue_settings(namespace, queue, settings).await?;
    }
    Ok(())
}

/// Changes the given settings of a queue and keeps the rest.
pub async fn update_queue<T: JobTx>(
    tx: &mut T,
    namespace: &Namespace,
    queue: &str,
    update: &QueueSettingsUpdate,
) -> Result<Applied<QueueSettings>, Error> {
    let mut settings = tx.queue_settings(namespace, queue).await?.unwrap_or_else(QueueSettings::new);
    let resumed = update.paused == Some(false) && settings.paused;
    if let Some(paused) = update.paused {
        settings.paused = paused;
    }
    if let Some(limit) = update.global_concurrency {
        settings.global_concurrency = limit;
    }
    if let Some(rate) = update.rate_limit {
        settings.rate_limit = rate;
    }
    if let Some(per_key) = update.per_key_concurrency {
        settings.per_key_concurrency = per_key;
    }
    tx.save_queue_settings(namespace, queue, &settings).await?;
    // Resuming (or loosening a limit) can make waiting jobs fetchable: let long polls look again.
    let changes = if resumed || update.global_concurrency.is_some() || update.rate_limit.is_some() {
        vec![Change::JobsAvailable { namespace: namespace.clone(), queue: queue.to_owned() }]
    } else {
        Vec::new()
    };
    Ok(Applied::with(settings, changes))
}

/// Reads the job running under `lease`, or says why it is not.
async fn leased_job<T: JobTx>(tx: &mut T, lease: &LeaseRef) -> Result<Job, Error> {
    let job = tx
        .job_for_update(&lease.namespace, lease.job_id)
        .await?
        .ok_or_else(|| Error::JobNotFound { job_id: lease.job_id.to_string() })?;
    check_lease(&job, lease)?;
    Ok(job)
}

/// Refuses a lease that is not the job's current one.
fn check_lease(job: &Job, lease: &LeaseRef) -> Result<(), Error> {
    refuse_stale(lease, job.state, job.lease_token)
}

/// Refuses `lease` unless the job is running under it (`state` and `current` are the job's).
pub(crate) fn refuse_stale(lease: &LeaseRef, state: JobState, current: Option<LeaseToken>) -> Result<(), Error> {
    if state != JobState::Running || current != Some(lease.lease_token) {
        return Err(Error::StaleToken { job_id: lease.job_id.to_string(), lease_token: lease.lease_token.0, state });
    }
    Ok(())
}

pub async fn heartbeat<T: JobTx>(tx: &mut T, params: &HeartbeatParams) -> Result<Applied<HeartbeatOutcome>, Error> {
    let mut job = leased_job(tx, &params.lease).await?;
    let now = tx.now().await?;
    let extend_ms = params.extend_ms.or(job.lease_ms).unwrap_or(0);
    let extended = Timestamp(now.0.saturating_add(extend_ms));
    let expires_at = job.lease_expires_at.map_or(extended, |current| current.max(extended));
    job.lease_expires_at = Some(expires_at);
    job.heartbeat_at = Some(now);
    if params.progress.is_some() {
        job.progress = params.progress.clone();
    }
    tx.update_job(&job).await?;
    Ok(Applied::quiet(HeartbeatOutcome {
        job_id: job.job_id,
        lease_expires_at: expires_at,
        cancel_requested: job.cancel_requested,
    }))
}

/// Completes each job; one item's stale token fails only that item.
pub async fn complete<T: SagaTx>(
    tx: &mut T,
    items: &[CompleteParams],
) -> Result<Applied<Vec<Result<Job, Error>>>, Error> {
    finish_each(tx, items.iter().map(|item| &item.lease), |job, index, now| {
        rules::complete_attempt(job, items[index].result.clone(), now);
    })
    .await
}

/// Fails each job's attempt: it retries after its backoff, or is discarded, or cancelled if a cancel waits.
pub async fn fail<T: SagaTx>(tx: &mut T, items: &[FailParams]) -> Result<Applied<Vec<Result<Job, Error>>>, Error> {
    finish_each(tx, items.iter().map(|item| &item.lease), |job, index, now| {
        let item = &items[index];
        let failure =
            AttemptFailure { error: item.error.clone(), retry_in_ms: item.retry_in_ms, discard: item.discard };
        rules::fail_attempt(job, failure, now);
    })
    .await
}

/// Gives back jobs whose fetcher never received them, without counting their attempt
/// ([`rules::release_attempt`]).
pub async fn release<T: SagaTx>(tx: &mut T, leases: &[LeaseRef]) -> Result<Applied<Vec<Result<Job, Error>>>, Error> {
    let released = finish_each(tx, leases.iter(), |job, _, now| rules::release_attempt(job, now)).await?;
    uncount_in_rate_windows(tx, &released.value).await?;
    Ok(released)
}

/// Takes released jobs back out of their queue's rate window: the fetch that took them counted them, and they
/// never ran. A job taken before the window in force began was counted in one that is over, and stays so.
async fn uncount_in_rate_windows<T: JobTx>(tx: &mut T, released: &[Result<Job, Error>]) -> Result<(), Error> {
    let mut taken_at: BTreeMap<(&Namespace, &str), Vec<Timestamp>> = BTreeMap::new();
    for job in released.iter().flatten().filter(|job| job.state == JobState::Available) {
        if let Some(attempted_at) = job.attempted_at {
            taken_at.entry((&job.namespace, &job.queue)).or_default().push(attempted_at);
        }
    }
    // In key order, so that two releases lock shared queues in the same order.
    for ((namespace, queue), taken_at) in taken_at {
        let rate_limited =
            tx.queue_settings(namespace, queue).await?.is_some_and(|settings| settings.rate_limit.is_some());
        if !rate_limited {
            continue;
        }
        // Read again under the lock, as a fetch counts under it.
        tx.lock_queue(namespace, queue).await?;
        let Some(mut settings) = tx.queue_settings(namespace, queue).await? else { continue };
        let mut window = rules::current_window(&settings, tx.now().await?);
        let counted = taken_at.iter().filter(|&&at| at >= window.started_at).count();
        if counted == 0 {
            continue;
        }
        window.taken = window.taken.saturating_sub(u32::try_from(counted).unwrap_or(u32::MAX));
        settings.rate_window = window;
        tx.save_queue_settings(namespace, queue, &settings).await?;
    }
    Ok(())
}

/// Applies `transition` to each leased job, in job id order so that concurrent batches lock rows in one order,
/// and answers in the callers' order.
async fn finish_each<'a, T: SagaTx>(
    tx: &mut T,
    leases: impl Iterator<Item = &'a LeaseRef>,
    mut transition: impl FnMut(&mut Job, usize, Timestamp),
) -> Result<Applied<Vec<Result<Job, Error>>>, Error> {
    let leases: Vec<&LeaseRef> = leases.collect();
    // One read per namespace for the whole batch, each holding its rows in job id order.
    let mut wanted: BTreeMap<&Namespace, Vec<JobId>> = BTreeMap::new();
    for lease in &leases {
        wanted.entry(&lease.namespace).or_default().push(lease.job_id);
    }
    let mut jobs: HashMap<(Namespace, JobId), Job> = HashMap::new();
    for (namespace, mut job_ids) in wanted {
        job_ids.sort_unstable();
        job_ids.dedup();
        for job in tx.jobs_for_update(namespace, &job_ids).await? {
            jobs.insert((job.namespace.clone(), job.job_id), job);
        }
    }
    // Asked once the rows are held: a backend whose read brought the clock answers without a round trip.
    let now = tx.now().await?;
    let mut results = Vec::with_capacity(leases.len());
    let mut changed: Vec<(Namespace, JobId)> = Vec::new();
    for (index, lease) in leases.iter().enumerate() {
        let key = (lease.namespace.clone(), lease.job_id);
        // A job named twice in one batch sees the first item's transition, so the second is stale.
        let outcome = match jobs.get_mut(&key) {
            None => Err(Error::JobNotFound { job_id: lease.job_id.to_string() }),
            Some(job) => match check_lease(job, lease) {
                Ok(()) => {
                    transition(job, index, now);
                    changed.push(key);
                    Ok(job.clone())
                }
                Err(refused) => Err(refused),
            },
        };
        results.push(outcome);
    }
    let updated: Vec<Job> = changed.iter().filter_map(|key| jobs.get(key).cloned()).collect();
    tx.update_jobs(&updated).await?;
    let mut changes: Vec<Change> = updated.iter().flat_map(transition_changes).collect();
    for job in updated.iter().filter(|job| job.state.is_terminal()) {
        changes.extend(on_finalized(tx, job).await?);
    }
    Ok(Applied::with(results, merge_changes(changes)))
}

/// Hands a job that just reached a terminal state to what it belongs to: the saga step or the workflow run it
/// performs moves on in this same transaction.
async fn on_finalized<T: SagaTx>(tx: &mut T, job: &Job) -> Result<Vec<Change>, Error> {
    let mut changes = saga_engine::on_job_finalized(tx, job).await?;
    changes.extend(workflow_engine::on_run_finalized(tx, job).await?);
    Ok(changes)
}

/// What a transition tells waiting callers: a finished job's result is in and its queue has room; a job that
/// is due again, or retries (at once or after its backoff, which the woken poll then waits for), can be fetched.
fn transition_changes(job: &Job) -> Vec<Change> {
    let mut changes = Vec::new();
    if job.state.is_terminal() || job.state == JobState::Retryable {
        changes.push(Change::JobsFinished {
            namespace: job.namespace.clone(),
            queue: job.queue.clone(),
            job_ids: vec![job.job_id],
        });
    }
    if matches!(job.state, JobState::Available | JobState::Retryable) {
        changes.push(Change::JobsAvailable { namespace: job.namespace.clone(), queue: job.queue.clone() });
    }
    changes
}

/// Folds per-job changes into one per queue, so a batch publishes one notification per queue.
fn merge_changes(changes: Vec<Change>) -> Vec<Change> {
    let mut merged: Vec<Change> = Vec::new();
    for change in changes {
        let folded = match (&change, merged.last_mut()) {
            (
                Change::JobsFinished { namespace, queue, job_ids },
                Some(Change::JobsFinished { namespace: last_namespace, queue: last_queue, job_ids: last_ids }),
            ) if namespace == last_namespace && queue == last_queue => {
                last_ids.extend(job_ids);
                true
            }
            _ => merged.contains(&change),
        };
        if !folded {
            merged.push(change);
        }
    }
    merged
}

/// Cancels a waiting job at once; flags a running one, whose worker learns it from its next heartbeat.
pub async fn cancel<T: SagaTx>(tx: &mut T, namespace: &Namespace, job_id: JobId) -> Result<Applied<Job>, Error> {
    let mut job = existing_job(tx, namespace, job_id).await?;
    let now = tx.now().await?;
    match job.state {
        state if state.is_waiting() => rules::finalize(&mut job, JobState::Cancelled, now),
        JobState::Running => job.cancel_requested = true,
        state => return Err(Error::InvalidJobState { job_id: job_id.to_string(), state, action: "cancel" }),
    }
    tx.update_job(&job).await?;
    let mut changes = transition_changes(&job);
    if job.state.is_terminal() {
        changes.extend(on_finalized(tx, &job).await?);
    }
    Ok(Applied::with(job, changes))
}

/// Makes a discarded, cancelled or retryable job available now, with at least one more attempt.
pub async fn retry<T: JobTx>(tx: &mut T, namespace: &Namespace, job_id: JobId) -> Result<Applied<Job>, Error> {
    let mut job = existing_job(tx, namespace, job_id).await?;
    if !matches!(job.state, JobState::Discarded | JobState::Cancelled | JobState::Retryable | JobState::Scheduled) {
        return Err(Error::InvalidJobState { job_id: job_id.to_string(), state: job.state, action: "retry" });
    }
    let now = tx.now().await?;
    job.state = JobState::Available;
    job.run_at = now;
    job.finalized_at = None;
    job.cancel_requested = false;
    job.max_attempts = job.max_attempts.max(job.attempt.saturating_add(1));
    tx.update_job(&job).await?;
    let changes = transition_changes(&job);
    Ok(Applied::with(job, changes))
}

async fn existing_job<T: JobTx>(tx: &mut T, namespace: &Namespace, job_id: JobId) -> Result<Job, Error> {
    tx.job_for_update(namespace, job_id).await?.ok_or_else(|| Error::JobNotFound { job_id: job_id.to_string() })
}

/// Ends the attempts whose lease or timeout lapsed, as failures: they retry, or are discarded when out of
/// attempts, or cancelled when a cancel was waiting. Each job's row is held, so a worker's ack that races this
/// either lands first (and the job is no longer lapsed) or finds a stale token.
pub async fn expire_leases<T: SagaTx>(tx: &mut T, max_jobs: u32) -> Result<Applied<JobExpiryReport>, Error> {
    let now = tx.now().await?;
    let lapsed = tx.lapsed_running(max_jobs).await?;
    let mut changes = Vec::new();
    for mut job in lapsed.iter().cloned() {
        let timed_out = job
            .timeout_ms
            .zip(job.attempted_at)
            .is_some_and(|(timeout, started)| started.0.saturating_add(timeout) <= now.0);
        let error = if timed_out {
            format!("timed out after {} ms", job.timeout_ms.unwrap_or(0))
        } else {
            format!("lease expired: worker {} stopped heartbeating", job.worker_id.as_deref().unwrap_or("?"))
        };
        rules::fail_attempt(&mut job, AttemptFailure { error, retry_in_ms: None, discard: false }, now);
        tx.update_job(&job).await?;
        changes.extend(transition_changes(&job));
        if job.state.is_terminal() {
            changes.extend(on_finalized(tx, &job).await?);
        }
    }
    let next_due_in_ms = tx.next_lapse().await?.map(|due| due.0.saturating_sub(now.0).max(0));
    Ok(Applied::with(JobExpiryReport { jobs_expired: lapsed.len(), next_due_in_ms }, merge_changes(changes)))
}
