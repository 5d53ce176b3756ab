//! The job half of the store port. Each method is one atomic store operation; batch methods apply every item
//! in one operation, and one item's refusal (a stale token, say) never fails the others.

use async_trait::async_trait;

use crate::error::Error;
use crate::job::job_type::JobType;
use crate::job::model::{
    CompleteParams, EnqueueOutcome, EnqueueParams, EnqueuedTaking, FailParams, FetchOutcome, FetchParams,
    HeartbeatOutcome, HeartbeatParams, Job, JobExpiryReport, JobId, LeaseRef, ListJobsParams, QueueInfo, QueueSettings,
    QueueSettingsUpdate,
};
use crate::job::schedule::{Schedule, ScheduleReport};
use crate::namespace::Namespace;
use crate::page::Page;

#[async_trait]
pub trait JobStore: Send + Sync {
    async fn enqueue(&self, params: EnqueueParams) -> Result<Vec<EnqueueOutcome>, Error>;

    /// Enqueues, then fetches for an idle poll in the same transaction ([`crate::job::engine::enqueue_taking`]).
    async fn enqueue_taking(&self, params: EnqueueParams, fetch: FetchParams) -> Result<EnqueuedTaking, Error>;

    async fn fetch(&self, params: FetchParams) -> Result<FetchOutcome, Error>;

    async fn heartbeat(&self, params: HeartbeatParams) -> Result<HeartbeatOutcome, Error>;

    async fn complete(&self, items: Vec<CompleteParams>) -> Result<Vec<Result<Job, Error>>, Error>;

    async fn fail(&self, items: Vec<FailParams>) -> Result<Vec<Result<Job, Error>>, Error>;

    /// Gives back jobs their fetcher never received, without counting the attempt
    /// ([`crate::job::engine::release`]).
    async fn release_jobs(&self, leases: Vec<LeaseRef>) -> Result<Vec<Result<Job, Error>>, Error>;

    async fn cancel_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Job, Error>;

    async fn retry_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Job, Error>;

    async fn get_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Option<Job>, Error>;

    /// Jobs in id (creation) order.
    async fn list_jobs(&self, params: ListJobsParams) -> Result<Page<Job>, Error>;

    /// Every queue that has jobs or settings, with its counts per state.
    async fn queues(&self, namespace: &Namespace) -> Result<Vec<QueueInfo>, Error>;

    async fn update_queue(
        &self,
        namespace: &Namespace,
        queue: &str,
        update: QueueSettingsUpdate,
    ) -> Result<QueueSettings, Error>;

    /// Ends up to `max_jobs` attempts whose lease or timeout lapsed.
    async fn expire_job_leases(&self, max_jobs: u32) -> Result<JobExpiryReport, Error>;

    /// Deletes up to `max_jobs` jobs finalized more than `retention_ms` ago; returns how many.
    async fn prune_jobs(&self, retention_ms: i64, max_jobs: u32) -> Result<u64, Error>;
}

/// The registry of job types with a built-in executor.
#[async_trait]
pub trait JobTypeStore: Send + Sync {
    /// Creates or replaces a job type (its `updated_at` is set by the store); says whether it is new.
    async fn save_job_type(&self, job_type: JobType) -> Result<(JobType, bool), Error>;

    async fn get_job_type(&self, namespace: &Namespace, job_type: &str) -> Result<Option<JobType>, Error>;

    /// Every job type of every namespace when `namespace` is `None` (what an executor pool serves), by name.
    async fn list_job_types(&self, namespace: Option<&Namespace>) -> Result<Vec<JobType>, Error>;

    /// Returns whether it existed.
    async fn delete_job_type(&self, namespace: &Namespace, job_type: &str) -> Result<bool, Error>;
}

/// Cron schedules. Firing is idempotent per tick, so every node runs a scheduler.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates or replaces a schedule; says whether it is new.
    async fn save_schedule(&self, schedule: Schedule) -> Result<(Schedule, bool), Error>;

    async fn get_schedule(&self, namespace: &Namespace, name: &str) -> Result<Option<Schedule>, Error>;

    /// Every schedule of the namespace, by name.
    async fn list_schedules(&self, namespace: &Namespace) -> Result<Vec<Schedule>, Error>;

    async fn delete_schedule(&self, namespace: &Namespace, name: &str) -> Result<(), Error>;

    async fn set_schedule_paused(&self, namespace: &Namespace, name: &str, paused: bool) -> Result<Schedule, Error>;

    /// Enqueues the schedule's job now.
    async fn trigger_schedule(&self, namespace: &Namespace, name: &str) -> Result<Job, Error>;

    async fn fire_due_schedules(&self, max: u32) -> Result<ScheduleReport, Error>;
}
