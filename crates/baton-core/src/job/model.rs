//! The job nouns: ids, states, the stored record, and the parameters and outcomes of each store operation.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::clock::Timestamp;
use crate::namespace::Namespace;

/// Identifies a job. UUIDv7, so ids sort by creation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Proves that the holder of a fetched job is its current worker. Drawn from one durable counter at every
/// fetch, so it is strictly increasing per job (and unique across jobs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseToken(pub i64);

/// `scheduled → available → running → {completed | retryable → available | discarded | cancelled}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `run_at`.
    Scheduled,
    Available,
    Running,
    /// Failed an attempt; runs again at its `run_at`.
    Retryable,
    Completed,
    /// Failed for good: out of attempts or discarded by its worker (the dead-letter state).
    Discarded,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        Self::Scheduled,
        Self::Available,
        Self::Running,
        Self::Retryable,
        Self::Completed,
        Self::Discarded,
        Self::Cancelled,
    ];

    /// The states a job waits in to be fetched.
    pub const WAITING: [JobState; 3] = [Self::Scheduled, Self::Available, Self::Retryable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Available => "available",
            Self::Running => "running",
            Self::Retryable => "retryable",
            Self::Completed => "completed",
            Self::Discarded => "discarded",
            Self::Cancelled => "cancelled",
        }
    }

    /// A terminal state always carries `finalized_at`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Discarded | Self::Cancelled)
    }

    pub fn is_waiting(self) -> bool {
        Self::WAITING.contains(&self)
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|state| state.as_str() == raw).ok_or_else(|| format!("unknown job state '{raw}'"))
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackoffStrategy {
    #[default]
    Exponential,
    Linear,
    Fixed,
}

/// How long a failed job waits before its next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    pub strategy: BackoffStrategy,
    pub initial_delay_ms: i64,
    pub max_delay_ms: i64,
    /// The fraction (0 to 1) of each delay that is randomised, so that jobs failing together spread out.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { strategy: BackoffStrategy::Exponential, initial_delay_ms: 1_000, max_delay_ms: 3_600_000, jitter: 0.1 }
    }
}

/// One failed attempt, kept on the job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttemptError {
    pub attempt: u32,
    pub error: String,
    pub at: Timestamp,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub job_id: JobId,
    pub namespace: Namespace,
    pub queue: String,
    #[serde(rename = "type")]
    pub job_type: String,
    pub payload: Value,
    pub priority: i32,
    pub state: JobState,
    /// Attempts started so far; the running attempt's number while running.
    pub attempt: u32,
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub timeout_ms: Option<i64>,
    pub run_at: Timestamp,
    pub lease_token: Option<LeaseToken>,
    pub lease_ms: Option<i64>,
    pub lease_expires_at: Option<Timestamp>,
    pub worker_id: Option<String>,
    pub heartbeat_at: Option<Timestamp>,
    pub progress: Option<Value>,
    pub result: Option<Value>,
    pub errors: Vec<AttemptError>,
    pub unique_key: Option<String>,
    pub concurrency_key: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    pub trace_context: Option<String>,
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub attempted_at: Option<Timestamp>,
    pub finalized_at: Option<Timestamp>,
}

impl Job {
    /// The lease its worker acts under, while the job carries a lease token.
    pub fn lease(&self) -> Option<LeaseRef> {
        let lease_token = self.lease_token?;
        Some(LeaseRef { namespace: self.namespace.clone(), job_id: self.job_id, lease_token })
    }
}

/// A validated job about to be inserted.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub job_id: JobId,
    pub queue: String,
    pub job_type: String,
    pub payload: Value,
    pub priority: i32,
    /// When to run, as an offset from the store's now (so the store's clock decides), or an absolute instant.
    pub run_at: RunAt,
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub timeout_ms: Option<i64>,
    pub unique: Option<Uniqueness>,
    pub concurrency_key: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    pub trace_context: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RunAt {
    Now,
    After { delay_ms: i64 },
    At(Timestamp),
}

/// A unique key: while a job with the same key (in the same queue) is in one of `states`, and was created
/// within `for_ms`, no second job is created.
#[derive(Clone, Debug, PartialEq)]
pub struct Uniqueness {
    pub key: String,
    pub for_ms: Option<i64>,
    pub states: Vec<JobState>,
    pub on_conflict: OnConflict,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Answer with the existing job.
    #[default]
    Existing,
    /// Refuse with `DUPLICATE_JOB`.
    Reject,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EnqueueOutcome {
    Created(Job),
    /// A job with the same unique key exists: this one was not created.
    Duplicate(Job),
}

impl EnqueueOutcome {
    pub fn job(&self) -> &Job {
        match self {
            Self::Created(job) | Self::Duplicate(job) => job,
        }
    }

    pub fn into_job(self) -> Job {
        match self {
            Self::Created(job) | Self::Duplicate(job) => job,
        }
    }
}

#[derive(Clone, Debug)]
pub struct EnqueueParams {
    pub namespace: Namespace,
    pub jobs: Vec<NewJob>,
}

/// What an enqueue that fetched for an idle poll in its own transaction did.
#[derive(Clone, Debug)]
pub struct EnqueuedTaking {
    /// One per job, in request order, as [`EnqueueParams::jobs`] were written.
    pub outcomes: Vec<EnqueueOutcome>,
    /// What the poll's fetch took, leased to its worker.
    pub taken: Vec<Job>,
}

#[derive(Clone, Debug)]
pub struct FetchParams {
    pub namespace: Namespace,
    /// Tried in this order.
    pub queues: Vec<String>,
    pub worker_id: String,
    pub max_jobs: u32,
    pub lease_ms: i64,
    /// Take only jobs of these types; all types when `None`.
    pub job_types: Option<Vec<String>>,
    /// Complete these jobs first, in the same transaction: a worker acknowledges what it finished and takes
    /// its next jobs in one round trip (and one commit).
    pub complete: Vec<CompleteParams>,
    /// The fetcher runs in the process that owns the store, so whatever stops that process stops the fetcher
    /// too: a store whose data only this process opens (SQLite) may then commit a fetch that carries no
    /// completions without waiting for the disk, as a lease lost to a power cut has no live holder.
    pub in_process: bool,
}

#[derive(Debug, Default)]
pub struct FetchOutcome {
    pub jobs: Vec<Job>,
    /// The outcome of each of [`FetchParams::complete`], in order.
    pub completed: Vec<Result<Job, crate::error::Error>>,
    /// When nothing was fetched: how long until the earliest waiting job of these queues is due, by the
    /// store's clock, so a long poll knows when to look again without a wake-up.
    pub next_due_in_ms: Option<i64>,
    /// A concurrency limit (the queue's, or a key's) held back jobs that were available: a job of the queue
    /// that finishes may make room for them. Otherwise a finishing job changes nothing for this fetch.
    pub held_back: bool,
}

/// Acting under a fetched job's lease.
#[derive(Clone, Debug)]
pub struct LeaseRef {
    pub namespace: Namespace,
    pub job_id: JobId,
    pub lease_token: LeaseToken,
}

#[derive(Clone, Debug)]
pub struct HeartbeatParams {
    pub lease: LeaseRef,
    pub progress: Option<Value>,
    /// Extend the lease to this far from now; `None` extends it by the lease it was fetched with.
    pub extend_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeartbeatOutcome {
    pub job_id: JobId,
    pub lease_expires_at: Timestamp,
    /// The job was cancelled while running: its worker should stop and report.
    pub cancel_requested: bool,
}

#[derive(Clone, Debug)]
pub struct CompleteParams {
    pub lease: LeaseRef,
    pub result: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct FailParams {
    pub lease: LeaseRef,
    pub error: String,
    /// Run again after this long, instead of the job's backoff.
    pub retry_in_ms: Option<i64>,
    /// Fail for good, whatever attempts are left.
    pub discard: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ListJobsParams {
    pub namespace: Namespace,
    pub queue: Option<String>,
    pub state: Option<JobState>,
    pub job_type: Option<String>,
    pub tag: Option<String>,
    /// Continue after this job id.
    pub after: Option<JobId>,
    pub limit: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u32,
    pub period_ms: i64,
}

/// A queue's settings. They hold across every node and worker: the store checks them inside the fetch.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QueueSettings {
    pub paused: bool,
    /// The most jobs of this queue running at once.
    pub global_concurrency: Option<u32>,
    /// The most jobs of this queue started per period.
    pub rate_limit: Option<RateLimit>,
    /// The most running jobs per `concurrency_key`.
    pub per_key_concurrency: u32,
    /// The rate limit's current window: when it began and how many jobs it has started.
    pub rate_window: RateWindow,
}

/// A fixed window of a rate limit (as BullMQ's limiter): at most `limit` jobs start from `started_at` until
/// `started_at + period`, then the count starts again.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RateWindow {
    pub started_at: Timestamp,
    pub taken: u32,
}

impl Default for RateWindow {
    /// A window long over, so the first fetch starts a fresh one.
    fn default() -> Self {
        Self { started_at: Timestamp(0), taken: 0 }
    }
}

impl QueueSettings {
    pub const DEFAULT_PER_KEY_CONCURRENCY: u32 = 1;

    pub fn new() -> Self {
        Self { per_key_concurrency: Self::DEFAULT_PER_KEY_CONCURRENCY, ..Self::default() }
    }

    /// Whether a fetch must count running or started jobs, which needs the queue to itself on a cluster.
    pub fn limits_fetch(&self) -> bool {
        self.global_concurrency.is_some() || self.rate_limit.is_some()
    }
}

/// A partial update of [`QueueSettings`]; absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct QueueSettingsUpdate {
    pub paused: Option<bool>,
    /// `Some(None)` removes the limit.
    pub global_concurrency: Option<Option<u32>>,
    pub rate_limit: Option<Option<RateLimit>>,
    pub per_key_concurrency: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueInfo {
    pub queue: String,
    pub settings: QueueSettings,
    /// Jobs per state; states with none are absent.
    pub counts: BTreeMap<String, u64>,
    /// Jobs completed in the last minute.
    pub completed_last_minute: u64,
}

impl QueueInfo {
    /// Assembles queue overviews from stored settings, `(queue, state, count)` rows and `(queue, completed in
    /// the last minute)` rows. Every queue named anywhere appears once, in name order.
    pub fn assemble(
        settings: Vec<(String, QueueSettings)>,
        counts: Vec<(String, String, u64)>,
        completed: Vec<(String, u64)>,
    ) -> Vec<QueueInfo> {
        let mut queues: BTreeMap<String, QueueInfo> = BTreeMap::new();
        fn entry<'a>(queues: &'a mut BTreeMap<String, QueueInfo>, queue: &str) -> &'a mut QueueInfo {
            queues.entry(queue.to_owned()).or_insert_with(|| QueueInfo {
                queue: queue.to_owned(),
                settings: QueueSettings::new(),
                counts: BTreeMap::new(),
                completed_last_minute: 0,
            })
        }
        for (queue, queue_settings) in settings {
            entry(&mut queues, &queue).settings = queue_settings;
        }
        for (queue, state, count) in counts {
            entry(&mut queues, &queue).counts.insert(state, count);
        }
        for (queue, count) in completed {
            entry(&mut queues, &queue).completed_last_minute = count;
        }
        queues.into_values().collect()
    }
}

/// What one lease-expiry pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobExpiryReport {
    pub jobs_expired: usize,
    /// Milliseconds until the next running job's lease or timeout lapses, by the store's clock.
    pub next_due_in_ms: Option<i64>,
}
