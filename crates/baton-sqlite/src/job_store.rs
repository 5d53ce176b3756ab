//! The job half of the store port on SQLite: transitions run the shared engine in the writer thread, so a
//! batch of acks from many workers shares one commit; reads run on the reader pool.

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
use baton_core::store::Applied;
use futures::executor::block_on;
use rusqlite::params;

use crate::rows::store_error;
use crate::store::SqliteStore;

/// How far back "recent throughput" in the queue overview looks.
const RECENT_MS: i64 = 60_000;

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, params: EnqueueParams) -> Result<Vec<EnqueueOutcome>, Error> {
        self.writer.write(move |tx| block_on(engine::enqueue(tx, &params))).await
    }

    async fn enqueue_taking(&self, params: EnqueueParams, fetch: FetchParams) -> Result<EnqueuedTaking, Error> {
        self.writer.write(move |tx| block_on(engine::enqueue_taking(tx, &params, &fetch))).await
    }

    async fn fetch(&self, params: FetchParams) -> Result<FetchOutcome, Error> {
        if params.in_process && params.complete.is_empty() {
            return self.writer.write_relaxed(move |tx| block_on(engine::fetch(tx, &params))).await;
        }
        self.writer.write(move |tx| block_on(engine::fetch(tx, &params))).await
    }

    async fn heartbeat(&self, params: HeartbeatParams) -> Result<HeartbeatOutcome, Error> {
        self.writer.write_single(move |tx| block_on(engine::heartbeat(tx, &params))).await
    }

    async fn complete(&self, items: Vec<CompleteParams>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.writer.write(move |tx| block_on(engine::complete(tx, &items))).await
    }

    async fn fail(&self, items: Vec<FailParams>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.writer.write(move |tx| block_on(engine::fail(tx, &items))).await
    }

    async fn release_jobs(&self, leases: Vec<LeaseRef>) -> Result<Vec<Result<Job, Error>>, Error> {
        self.writer.write(move |tx| block_on(engine::release(tx, &leases))).await
    }

    async fn cancel_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Job, Error> {
        let namespace = namespace.clone();
        self.writer.write_single(move |tx| block_on(engine::cancel(tx, &namespace, job_id))).await
    }

    async fn retry_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Job, Error> {
        let namespace = namespace.clone();
        self.writer.write_single(move |tx| block_on(engine::retry(tx, &namespace, job_id))).await
    }

    async fn get_job(&self, namespace: &Namespace, job_id: JobId) -> Result<Option<Job>, Error> {
        let namespace = namespace.clone();
        self.readers
            .read(move |tx| {
                let args = params![namespace.as_str(), job_id.to_string()];
                Ok(tx.query_optional(include_str!("../queries/job/get.sql"), args, crate::rows::job)?)
            })
            .await
    }

    async fn list_jobs(&self, params: ListJobsParams) -> Result<Page<Job>, Error> {
        self.readers
            .read(move |tx| {
                let items = tx.query_all(
                    include_str!("../queries/job/list.sql"),
                    params![
                        params.namespace.as_str(),
                        params.queue,
                        params.state.map(JobState::as_str),
                        params.job_type,
                        params.tag,
                        params.after.map(|id| id.to_string()),
                        i64::from(params.limit) + 1
                    ],
                    crate::rows::job,
                )?;
                Ok(Page::from_overfetch(items, params.limit, |job| vec![job.job_id.to_string()]))
            })
            .await
    }

    async fn queues(&self, namespace: &Namespace) -> Result<Vec<QueueInfo>, Error> {
        let namespace = namespace.clone();
        self.readers
            .read(move |tx| {
                let settings = tx.query_all(
                    include_str!("../queries/job/all_queue_settings.sql"),
                    [namespace.as_str()],
                    crate::rows::queue_settings,
                )?;
                let settings = settings.into_iter().flatten().collect();
                let counts =
                    tx.query_all(include_str!("../queries/job/queue_counts.sql"), [namespace.as_str()], |row| {
                        let jobs = row.get::<_, i64>("jobs").map_err(store_error)?;
                        Ok((
                            row.get("queue").map_err(store_error)?,
                            row.get("state").map_err(store_error)?,
                            u64::try_from(jobs).unwrap_or(0),
                        ))
                    })?;
                let since = tx.now.as_millis() - RECENT_MS;
                let completed = tx.query_all(
                    include_str!("../queries/job/completed_since.sql"),
                    params![namespace.as_str(), since],
                    |row| {
                        let jobs = row.get::<_, i64>("jobs").map_err(store_error)?;
                        Ok((row.get("queue").map_err(store_error)?, u64::try_from(jobs).unwrap_or(0)))
                    },
                )?;
                Ok(QueueInfo::assemble(settings, counts, completed))
            })
            .await
    }

    async fn update_queue(
        &self,
        namespace: &Namespace,
        queue: &str,
        update: QueueSettingsUpdate,
    ) -> Result<QueueSettings, Error> {
        let (namespace, queue) = (namespace.clone(), queue.to_owned());
        self.writer.write(move |tx| block_on(engine::update_queue(tx, &namespace, &queue, &update))).await
    }

    async fn expire_job_leases(&self, max_jobs: u32) -> Result<JobExpiryReport, Error> {
        self.writer.write(move |tx| block_on(engine::expire_leases(tx, max_jobs))).await
    }

    async fn prune_jobs(&self, retention_ms: i64, max_jobs: u32) -> Result<u64, Error> {
        self.writer
            .write_single(move |tx| {
                let before = Timestamp(tx.now.as_millis().saturating_sub(retention_ms));
                let pruned = tx.execute(include_str!("../queries/job/prune.sql"), params![before.0, max_jobs])?;
                Ok(Applied::quiet(u64::try_from(pruned).unwrap_or(0)))
            })
            .await
    }
}
