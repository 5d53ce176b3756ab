//! The statements the shared job rules run, on one SQLite connection, and the decoding of a stored job. The
//! writer thread serialises every write, so `lock_queue` and `lock_unique_key` have nothing to do here.

use std::collections::HashMap;

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::job::engine::{JobTx, NextDue, QueueLook};
use baton_core::job::stored::encode_states;
use baton_core::job::{Job, JobId, JobState, QueueSettings};
use baton_core::namespace::Namespace;
use baton_core::stored::{encode, encode_optional};
use rusqlite::params;

use crate::rows::{job, store_error};
use crate::tx::SqliteTx;

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("stored job {what} does not parse"))
}

impl JobTx for SqliteTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        Ok(self.now)
    }

    async fn lock_unique_key(&mut self, _namespace: &Namespace, _queue: &str, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn find_unique(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        key: &str,
        states: &[JobState],
        created_since: Option<Timestamp>,
    ) -> Result<Option<Job>, StoreError> {
        let since = created_since.map(Timestamp::as_millis);
        let args = params![namespace.as_str(), queue, key, encode_states(states)?, since];
        self.query_optional(include_str!("../queries/job/find_unique.sql"), args, job)
    }

    async fn insert_jobs(&mut self, jobs: &[Job]) -> Result<(), StoreError> {
        for job in jobs {
            self.execute(
                include_str!("../queries/job/insert.sql"),
                params![
                    job.namespace.as_str(),
                    job.job_id.to_string(),
                    job.queue,
                    job.job_type,
                    encode(&job.payload)?,
                    job.priority,
                    job.state.as_str(),
                    job.max_attempts,
                    encode(&job.backoff)?,
                    job.timeout_ms,
                    job.run_at.as_millis(),
                    job.unique_key,
                    job.concurrency_key,
                    encode(&job.tags)?,
                    encode_optional(job.metadata.as_ref())?,
                    job.trace_context,
                    job.created_at.as_millis(),
                ],
            )?;
        }
        Ok(())
    }

    async fn queue_settings(
        &mut self,
        namespace: &Namespace,
        queue: &str,
    ) -> Result<Option<QueueSettings>, StoreError> {
        let found = self.query_optional(
            include_str!("../queries/job/queue_settings.sql"),
            params![namespace.as_str(), queue],
            crate::rows::queue_settings,
        )?;
        Ok(found.flatten().map(|(_, settings)| settings))
    }

    async fn save_queue_settings(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        settings: &QueueSettings,
    ) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/job/save_queue_settings.sql"),
            params![
                namespace.as_str(),
                queue,
                settings.paused,
                settings.global_concurrency,
                settings.rate_limit.map(|rate| rate.limit),
                settings.rate_limit.map(|rate| rate.period_ms),
                settings.per_key_concurrency,
                settings.rate_window.started_at.as_millis(),
                settings.rate_window.taken,
            ],
        )?;
        Ok(())
    }

    async fn lock_queue(&mut self, _namespace: &Namespace, _queue: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn look_at_queue(&mut self, namespace: &Namespace, queue: &str, limit: u32) -> Result<QueueLook, StoreError> {
        let settings = self.queue_settings(namespace, queue).await?;
        if !settings.as_ref().is_some_and(|settings| settings.paused) {
            let args = params![namespace.as_str(), queue, self.now.as_millis(), limit];
            self.execute(include_str!("../queries/job/promote_due.sql"), args)?;
        }
        // In process, the next due time is read only by the fetch that needs it.
        Ok(QueueLook { settings: settings.unwrap_or_else(QueueSettings::new), next_due: NextDue::Unread })
    }

    async fn fetch_candidates(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        job_types: Option<&[String]>,
        skip_keys_running: Option<u32>,
        limit: u32,
    ) -> Result<Vec<(JobId, Option<String>)>, StoreError> {
        let types = job_types.map(encode).transpose()?;
        self.query_all(
            include_str!("../queries/job/fetch_candidates.sql"),
            params![namespace.as_str(), queue, self.now.as_millis(), limit, types, skip_keys_running],
            |row| {
                let id: String = row.get("job_id").map_err(store_error)?;
                let job_id = JobId::parse(&id).ok_or_else(|| corrupt("id"))?;
                Ok((job_id, row.get("concurrency_key").map_err(store_error)?))
            },
        )
    }

    async fn running_count(&mut self, namespace: &Namespace, queue: &str) -> Result<u64, StoreError> {
        self.count(include_str!("../queries/job/running_count.sql"), params![namespace.as_str(), queue])
    }

    async fn running_per_key(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        keys: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let rows = self.query_all(
            include_str!("../queries/job/running_per_key.sql"),
            params![namespace.as_str(), queue, encode(&keys)?],
            |row| {
                let running = row.get::<_, i64>("running").map_err(store_error)?;
                Ok((row.get::<_, String>("concurrency_key").map_err(store_error)?, u64::try_from(running).unwrap_or(0)))
            },
        )?;
        Ok(rows.into_iter().collect())
    }

    async fn claim(
        &mut self,
        namespace: &Namespace,
        job_ids: &[JobId],
        worker_id: &str,
        lease_ms: i64,
    ) -> Result<Vec<Job>, StoreError> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let count = i64::try_from(job_ids.len()).unwrap_or(i64::MAX);
        let last = self
            .query_optional(include_str!("../queries/job/next_lease_tokens.sql"), [count], |row| {
                row.get::<_, i64>(0).map_err(store_error)
            })?
            .ok_or_else(|| StoreError::Internal("the job lease token counter is missing".into()))?;
        let first = last - count + 1;
        let ids: Vec<String> = job_ids.iter().map(ToString::to_string).collect();
        let args = params![namespace.as_str(), encode(&ids)?, first, lease_ms, self.now.as_millis(), worker_id];
        let mut claimed = self.query_all(include_str!("../queries/job/claim.sql"), args, job)?;
        // Answer in fetch order (best first), which the UPDATE does not keep.
        claimed.sort_by_key(|job| job.lease_token);
        Ok(claimed)
    }

    async fn next_run_at(&mut self, namespace: &Namespace, queue: &str) -> Result<Option<Timestamp>, StoreError> {
        let next = self.query_optional(
            include_str!("../queries/job/next_run_at.sql"),
            params![namespace.as_str(), queue],
            |row| row.get::<_, Option<i64>>(0).map_err(store_error),
        )?;
        Ok(next.flatten().map(Timestamp))
    }

    async fn job_for_update(&mut self, namespace: &Namespace, job_id: JobId) -> Result<Option<Job>, StoreError> {
        self.query_optional(
            include_str!("../queries/job/get.sql"),
            params![namespace.as_str(), job_id.to_string()],
            job,
        )
    }

    async fn jobs_for_update(&mut self, namespace: &Namespace, job_ids: &[JobId]) -> Result<Vec<Job>, StoreError> {
        let ids: Vec<String> = job_ids.iter().map(ToString::to_string).collect();
        let args = params![namespace.as_str(), encode(&ids)?];
        self.query_all(include_str!("../queries/job/get_many_for_update.sql"), args, job)
    }

    async fn update_job(&mut self, job: &Job) -> Result<(), StoreError> {
        self.execute(
            include_str!("../queries/job/update.sql"),
            params![
                job.namespace.as_str(),
                job.job_id.to_string(),
                job.state.as_str(),
                job.attempt,
                job.max_attempts,
                job.run_at.as_millis(),
                job.lease_token.map(|token| token.0),
                job.lease_ms,
                job.lease_expires_at.map(Timestamp::as_millis),
                job.worker_id,
                job.heartbeat_at.map(Timestamp::as_millis),
                encode_optional(job.progress.as_ref())?,
                encode_optional(job.result.as_ref())?,
                encode(&job.errors)?,
                job.cancel_requested,
                job.attempted_at.map(Timestamp::as_millis),
                job.finalized_at.map(Timestamp::as_millis),
            ],
        )?;
        Ok(())
    }

    async fn lapsed_running(&mut self, limit: u32) -> Result<Vec<Job>, StoreError> {
        self.query_all(include_str!("../queries/job/lapsed_running.sql"), params![self.now.as_millis(), limit], job)
    }

    async fn next_lapse(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let next = self.query_optional(include_str!("../queries/job/next_lapse.sql"), [], |row| {
            row.get::<_, Option<i64>>(0).map_err(store_error)
        })?;
        Ok(next.flatten().map(Timestamp))
    }
}
