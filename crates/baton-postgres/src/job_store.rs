//! The job half of the store port on PostgreSQL: each operation is one transaction running the shared engine.

use async_trait::async_trait;
use baton_core::Error;
use baton_core::clock::Timestamp;
use baton_core::job::engine;
use baton_core::job::{
    CompleteParams, EnqueueOutcome, EnqueueParams, EnqueuedTaking, FailParams, FetchOutcome, FetchParams,
    HeartbeatOutcome, HeartbeatParams, Job, JobExpiryReport, JobId, JobState, JobStore, LeaseRef, ListJobsParams,
    QueueInfo, QueueSettings, QueueSettingsUpdate,
};
use baton_core::namespace::Namespace;
use baton_core::page::Page;
use sqlx::{Row, query};

use crate::rows::job;
use crate::rows::store_error;
use crate::store::PgStore;

/// How far back "recent throughput" in the queue overview looks.
const RECENT_MS: i64 = 60_000;

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, params: EnqueueParams) -> Result<Vec<EnqueueOutcome>, Error> {
        self.write(async |tx| engine::enqueue(tx, &params).await).await
    }

    async fn enqueue_taking(&self, params: EnqueueParams, fetch: FetchParams) -> Result<EnqueuedTaking, Error> {
        self.write(async |tx| engine::enqueue_taking(tx, &params, &fetch).await).await
    }

    async fn fetch(&self, params: FetchParams) -> Result<FetchOutcome, Error> {
        self.write(async |tx| engine::fetch(tx, &params).await).await
    }

    async fn heartbeat(&self, params: HeartbeatParams) -> Result<HeartbeatOutcome, Error> {
        self.write(async |tx| engine::heartbeat(tx, &params).await).await
    }

    async fn complete(&self, items: Vec<CompleteParams>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.write(async |tx| engine::complete(tx, &items).await).await
    }

    async fn fail(&self, items: Vec<FailParams>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.write(async |tx| engine::fail(tx, &items).await).await
    }

    async fn release_jobs(&self, leases: Vec<LeaseRef>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.write(async |tx| engine::release(tx, &leases).await).await
    }

    async fn cancel_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Job, Error> {
        self.write(async |tx| engine::cancel(tx, namespace, job_id).await).await
    }

    async fn retry_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Job, Error> {
        self.write(async |tx| engine::retry(tx, namespace, job_id).await).await
    }

    async fn get_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Option<Job>, Error> {
        let statement = query(include_str!("../queries/job/get.sql")).bind(namespace.as_str()).bind(job_id.to_string());
        let found = self.conns.fetch_optional(statement).await?;
        Ok(found.as_ref().map(job).transpose()?)
    }

    async fn list_jobs(&self, params: ListJobsParams) -> Result<Page<Job>, Error> {
        let statement = query(include_str!("../queries/job/list.sql"))
            .bind(params.namespace.as_str())
            .bind(params.queue.as_deref())
            .bind(params.state.map(JobState::as_str))
            .bind(params.job_type.as_deref())
            .bind(params.tag.as_deref())
            .bind(params.after.map(|id| id.to_string()))
            .bind(i64::from(params.limit) + 1);
        let rows = self.conns.fetch_all(statement).await?;
        let items = rows.iter().map(job).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, params.limit, |job| vec![job.job_id.to_string()]))
    }

    async fn queues(&self, namespace: &Namespace) -> Result<Vec<QueueInfo>, Error> {
        let statement = query(include_str!("../queries/job/all_queue_settings.sql")).bind(namespace.as_str());
        let settings_rows = self.conns.fetch_all(statement).await?;
        let settings = settings_rows
            .iter()
            .filter_map(|row| crate::rows::queue_settings(row).transpose())
            .collect::<Result<_, _>>()?;
        let statement = query(include_str!("../queries/job/queue_counts.sql")).bind(namespace.as_str());
        let count_rows = self.conns.fetch_all(statement).await?;
        let counts = count_rows
            .iter()
            .map(|row| {
                let jobs = row.try_get::<i64, _>("jobs").map_err(store_error)?;
                Ok((
                    row.try_get("queue").map_err(store_error)?,
                    row.try_get("state").map_err(store_error)?,
                    u64::try_from(jobs).unwrap_or(0),
                ))
            })
            .collect::<Result<_, Error>>()?;
        let statement = query(include_str!("../queries/job/completed_since.sql"))
            .bind(namespace.as_str())
            .bind(RECENT_MS)
            .bind(self.test_now().map(Timestamp::as_millis));
        let completed_rows = self.conns.fetch_all(statement).await?;
        let completed = completed_rows
            .iter()
            .map(|row| {
                let jobs = row.try_get::<i64, _>("jobs").map_err(store_error)?;
                Ok((row.try_get("queue").map_err(store_error)?, u64::try_from(jobs).unwrap_or(0)))
            })
            .collect::<Result<_, Error>>()?;
        Ok(QueueInfo::assemble(settings, counts, completed))
    }

    async fn update_queue(
        &self,
        namespace: &Namespace,
        queue: &str,
        update: QueueSettingsUpdate,
    ) -> Result<QueueSettings, Error> {
        self.write(async |tx| engine::update_queue(tx, namespace, queue, &update).await).await
    }

    async fn expire_job_leases(&self, max_jobs: u32) -> Result<JobExpiryReport, Error> {
        self.write(async |tx| engine::expire_leases(tx, max_jobs).await).await
    }

    async fn prune_jobs(&self, retention_ms: i64, max_jobs: u32) -> Result<u64, Error> {
        let statement = query(include_str!("../queries/job/prune.sql"))
            .bind(retention_ms)
            .bind(i64::from(max_jobs))
            .bind(self.test_now().map(Timestamp::as_millis));
        let done = self.conns.execute(statement).await?;
        Ok(done.rows_affected())
    }
}
