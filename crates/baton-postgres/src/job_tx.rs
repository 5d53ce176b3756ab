//! The statements the shared job rules run, on one PostgreSQL connection inside one transaction, and the
//! decoding of a stored job. Fetches skip rows other fetches hold (`FOR UPDATE SKIP LOCKED`); counting under
//! a queue's limits, and unique keys, take a transaction-scoped advisory lock.

use std::collections::HashMap;

use baton_core::StoreError;
use baton_core::clock::Timestamp;
use baton_core::job::engine::{JobTx, NextDue, QueueLook, UnkeyedClaim};
use baton_core::job::{Job, JobId, JobState, QueueSettings};
use baton_core::lock::engine::LockTx;
use baton_core::namespace::Namespace;
use baton_core::stored::{encode, encode_optional};
use sqlx::postgres::PgRow;
use sqlx::{Row, query};

use crate::rows::{job, store_error};
use crate::tx::{PgTx, advisory_key};

/// Jobs per multi-row statement. Chosen under sqlx 0.9.0, which left Nagle's algorithm on (launchbadge/sqlx#4335):
/// a statement larger than the socket's free send buffer (16 KiB at first here) waited about 40 ms for a delayed
/// ACK. sqlx 0.9.1 sets TCP_NODELAY again; the cut stays until a larger one is measured.
const JOBS_PER_STATEMENT: usize = 25;

fn corrupt(what: &str) -> StoreError {
    StoreError::Internal(format!("stored job {what} does not parse"))
}

fn count_of(row: &PgRow) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<i64, _>(0).map_err(store_error)?).unwrap_or(0))
}

/// Advisory lock ids for job resources. Lock keys never hold a NUL, so these never share a lock key's input.
fn job_lock_key(namespace: &Namespace, kind: &str, parts: &[&str]) -> i64 {
    advisory_key(namespace, &format!("\u{0}job-{kind}\u{0}{}", parts.join("\u{0}")))
}

impl PgTx<'_> {
    async fn take_advisory_lock(&mut self, lock_key: i64) -> Result<(), StoreError> {
        query(include_str!("../queries/job/lock_key.sql"))
            .bind(lock_key)
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn count(&mut self, sql: &'static str, namespace: &Namespace, queue: &str) -> Result<u64, StoreError> {
        let row =
            query(sql).bind(namespace.as_str()).bind(queue).fetch_one(&mut *self.conn).await.map_err(store_error)?;
        count_of(&row)
    }

    /// One multi-row insert (see [`JOBS_PER_STATEMENT`]).
    async fn insert_chunk(&mut self, jobs: &[Job]) -> Result<(), StoreError> {
        let column = |field: fn(&Job) -> String| jobs.iter().map(field).collect::<Vec<_>>();
        let optional = |field: fn(&Job) -> Option<String>| jobs.iter().map(field).collect::<Vec<_>>();
        let encoded =
            |field: fn(&Job) -> Result<String, StoreError>| jobs.iter().map(field).collect::<Result<Vec<_>, _>>();
        query(include_str!("../queries/job/insert_many.sql"))
            .bind(column(|job| job.namespace.as_str().to_owned()))
            .bind(column(|job| job.job_id.to_string()))
            .bind(column(|job| job.queue.clone()))
            .bind(column(|job| job.job_type.clone()))
            .bind(encoded(|job| encode(&job.payload))?)
            .bind(jobs.iter().map(|job| i64::from(job.priority)).collect::<Vec<_>>())
            .bind(column(|job| job.state.as_str().to_owned()))
            .bind(jobs.iter().map(|job| i64::from(job.max_attempts)).collect::<Vec<_>>())
            .bind(encoded(|job| encode(&job.backoff))?)
            .bind(jobs.iter().map(|job| job.timeout_ms).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| job.run_at.as_millis()).collect::<Vec<_>>())
            .bind(optional(|job| job.unique_key.clone()))
            .bind(optional(|job| job.concurrency_key.clone()))
            .bind(encoded(|job| encode(&job.tags))?)
            .bind(jobs.iter().map(|job| encode_optional(job.metadata.as_ref())).collect::<Result<Vec<_>, _>>()?)
            .bind(optional(|job| job.trace_context.clone()))
            .bind(jobs.iter().map(|job| job.created_at.as_millis()).collect::<Vec<_>>())
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// One multi-row update (see [`JOBS_PER_STATEMENT`]).
    async fn update_chunk(&mut self, jobs: &[Job]) -> Result<(), StoreError> {
        let times = |field: fn(&Job) -> Option<Timestamp>| {
            jobs.iter().map(|job| field(job).map(Timestamp::as_millis)).collect::<Vec<_>>()
        };
        let values = |field: fn(&Job) -> Option<&serde_json::Value>| {
            jobs.iter().map(|job| encode_optional(field(job))).collect::<Result<Vec<_>, _>>()
        };
        query(include_str!("../queries/job/update_many.sql"))
            .bind(jobs.iter().map(|job| job.namespace.as_str().to_owned()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| job.job_id.to_string()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| job.state.as_str().to_owned()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| i64::from(job.attempt)).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| i64::from(job.max_attempts)).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| job.run_at.as_millis()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| job.lease_token.map(|token| token.0)).collect::<Vec<_>>())
            .bind(jobs.iter().map(|job| job.lease_ms).collect::<Vec<_>>())
            .bind(times(|job| job.lease_expires_at))
            .bind(jobs.iter().map(|job| job.worker_id.clone()).collect::<Vec<_>>())
            .bind(times(|job| job.heartbeat_at))
            .bind(values(|job| job.progress.as_ref())?)
            .bind(values(|job| job.result.as_ref())?)
            .bind(jobs.iter().map(|job| encode(&job.errors)).collect::<Result<Vec<_>, _>>()?)
            .bind(jobs.iter().map(|job| job.cancel_requested).collect::<Vec<_>>())
            .bind(times(|job| job.attempted_at))
            .bind(times(|job| job.finalized_at))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

impl JobTx for PgTx<'_> {
    async fn now(&mut self) -> Result<Timestamp, StoreError> {
        LockTx::now(self).await
    }

    async fn lock_unique_key(&mut self, namespace: &Namespace, queue: &str, key: &str) -> Result<(), StoreError> {
        self.take_advisory_lock(job_lock_key(namespace, "unique", &[queue, key])).await
    }

    async fn find_unique(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        key: &str,
        states: &[JobState],
        created_since: Option<Timestamp>,
    ) -> Result<Option<Job>, StoreError> {
        let states: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
        let found = query(include_str!("../queries/job/find_unique.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .bind(key)
            .bind(states)
            .bind(created_since.map(Timestamp::as_millis))
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.as_ref().map(job).transpose()
    }

    async fn insert_jobs(&mut self, jobs: &[Job]) -> Result<(), StoreError> {
        for chunk in jobs.chunks(JOBS_PER_STATEMENT) {
            self.insert_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn queue_settings(
        &mut self,
        namespace: &Namespace,
        queue: &str,
    ) -> Result<Option<QueueSettings>, StoreError> {
        let row = query(include_str!("../queries/job/queue_settings.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        self.set_now_if_unset(Timestamp(row.try_get("now_ms").map_err(store_error)?));
        Ok(crate::rows::queue_settings(&row)?.map(|(_, settings)| settings))
    }

    async fn look_at_queue(&mut self, namespace: &Namespace, queue: &str, limit: u32) -> Result<QueueLook, StoreError> {
        let row = query(include_str!("../queries/job/look_at_queue.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .bind(self.known_now().map(Timestamp::as_millis))
            .bind(i64::from(limit))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        self.set_now_if_unset(Timestamp(row.try_get("now_ms").map_err(store_error)?));
        let settings = crate::rows::queue_settings(&row)?.map(|(_, settings)| settings);
        let next_run_at: Option<i64> = row.try_get("next_run_at").map_err(store_error)?;
        Ok(QueueLook {
            settings: settings.unwrap_or_else(QueueSettings::new),
            next_due: NextDue::Known(next_run_at.map(Timestamp)),
        })
    }

    async fn save_queue_settings(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        settings: &QueueSettings,
    ) -> Result<(), StoreError> {
        query(include_str!("../queries/job/save_queue_settings.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .bind(settings.paused)
            .bind(settings.global_concurrency.map(i64::from))
            .bind(settings.rate_limit.map(|rate| i64::from(rate.limit)))
            .bind(settings.rate_limit.map(|rate| rate.period_ms))
            .bind(i64::from(settings.per_key_concurrency))
            .bind(settings.rate_window.started_at.as_millis())
            .bind(i64::from(settings.rate_window.taken))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn lock_queue(&mut self, namespace: &Namespace, queue: &str) -> Result<(), StoreError> {
        self.take_advisory_lock(job_lock_key(namespace, "queue", &[queue])).await
    }

    async fn fetch_candidates(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        job_types: Option<&[String]>,
        skip_keys_running: Option<u32>,
        limit: u32,
    ) -> Result<Vec<(JobId, Option<String>)>, StoreError> {
        let now = JobTx::now(self).await?;
        let rows = query(include_str!("../queries/job/fetch_candidates.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .bind(now.as_millis())
            .bind(i64::from(limit))
            .bind(job_types)
            .bind(skip_keys_running.map(i64::from))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("job_id").map_err(store_error)?;
                let job_id = JobId::parse(&id).ok_or_else(|| corrupt("id"))?;
                Ok((job_id, row.try_get("concurrency_key").map_err(store_error)?))
            })
            .collect()
    }

    async fn running_count(&mut self, namespace: &Namespace, queue: &str) -> Result<u64, StoreError> {
        self.count(include_str!("../queries/job/running_count.sql"), namespace, queue).await
    }

    async fn running_per_key(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        keys: &[String],
    ) -> Result<HashMap<String, u64>, StoreError> {
        let rows = query(include_str!("../queries/job/running_per_key.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .bind(keys)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let running = row.try_get::<i64, _>("running").map_err(store_error)?;
                Ok((row.try_get("concurrency_key").map_err(store_error)?, u64::try_from(running).unwrap_or(0)))
            })
            .collect()
    }

    async fn claim_unkeyed(
        &mut self,
        namespace: &Namespace,
        queue: &str,
        job_types: Option<&[String]>,
        limit: u32,
        worker_id: &str,
        lease_ms: i64,
    ) -> Result<UnkeyedClaim, StoreError> {
        let now = JobTx::now(self).await?;
        let rows = query(include_str!("../queries/job/claim_unkeyed.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .bind(job_types)
            .bind(i64::from(limit))
            .bind(lease_ms)
            .bind(now.as_millis())
            .bind(worker_id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let first = rows.first().ok_or_else(|| StoreError::Internal("the claim answered no row".into()))?;
        if first.try_get::<bool, _>("keyed").map_err(store_error)? {
            let available: i64 = first.try_get("available").map_err(store_error)?;
            return Ok(UnkeyedClaim::Keyed { available: usize::try_from(available).unwrap_or(0) });
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            // The one row of nulls when nothing was claimed.
            if row.try_get::<Option<String>, _>("job_id").map_err(store_error)?.is_some() {
                claimed.push(job(row)?);
            }
        }
        Ok(UnkeyedClaim::Claimed(claimed))
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
        let now = JobTx::now(self).await?;
        let ids: Vec<String> = job_ids.iter().map(ToString::to_string).collect();
        let rows = query(include_str!("../queries/job/claim.sql"))
            .bind(namespace.as_str())
            .bind(&ids)
            .bind(lease_ms)
            .bind(now.as_millis())
            .bind(worker_id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        let mut claimed = rows.iter().map(job).collect::<Result<Vec<_>, _>>()?;
        // Answer in fetch order (best first), which the UPDATE does not keep.
        let rank: HashMap<JobId, usize> = job_ids.iter().enumerate().map(|(rank, id)| (*id, rank)).collect();
        claimed.sort_by_key(|job| rank.get(&job.job_id).copied().unwrap_or(usize::MAX));
        Ok(claimed)
    }

    async fn next_run_at(&mut self, namespace: &Namespace, queue: &str) -> Result<Option<Timestamp>, StoreError> {
        let row = query(include_str!("../queries/job/next_run_at.sql"))
            .bind(namespace.as_str())
            .bind(queue)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(row.try_get::<Option<i64>, _>(0).map_err(store_error)?.map(Timestamp))
    }

    async fn job_for_update(&mut self, namespace: &Namespace, job_id: JobId) -> Result<Option<Job>, StoreError> {
        let found = query(include_str!("../queries/job/get_for_update.sql"))
            .bind(namespace.as_str())
            .bind(job_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(store_error)?;
        found.as_ref().map(job).transpose()
    }

    async fn update_job(&mut self, job: &Job) -> Result<(), StoreError> {
        query(include_str!("../queries/job/update.sql"))
            .bind(job.namespace.as_str())
            .bind(job.job_id.to_string())
            .bind(job.state.as_str())
            .bind(i64::from(job.attempt))
            .bind(i64::from(job.max_attempts))
            .bind(job.run_at.as_millis())
            .bind(job.lease_token.map(|token| token.0))
            .bind(job.lease_ms)
            .bind(job.lease_expires_at.map(Timestamp::as_millis))
            .bind(&job.worker_id)
            .bind(job.heartbeat_at.map(Timestamp::as_millis))
            .bind(encode_optional(job.progress.as_ref())?)
            .bind(encode_optional(job.result.as_ref())?)
            .bind(encode(&job.errors)?)
            .bind(job.cancel_requested)
            .bind(job.attempted_at.map(Timestamp::as_millis))
            .bind(job.finalized_at.map(Timestamp::as_millis))
            .execute(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn jobs_for_update(&mut self, namespace: &Namespace, job_ids: &[JobId]) -> Result<Vec<Job>, StoreError> {
        let ids: Vec<String> = job_ids.iter().map(ToString::to_string).collect();
        let rows = query(include_str!("../queries/job/get_many_for_update.sql"))
            .bind(namespace.as_str())
            .bind(ids)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        // The last row's clock was read once every row was held.
        if let Some(row) = rows.last() {
            self.clock_read_with_row(Timestamp(row.try_get("read_at").map_err(store_error)?));
        }
        rows.iter().map(job).collect()
    }

    async fn update_jobs(&mut self, jobs: &[Job]) -> Result<(), StoreError> {
        for chunk in jobs.chunks(JOBS_PER_STATEMENT) {
            self.update_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn lapsed_running(&mut self, limit: u32) -> Result<Vec<Job>, StoreError> {
        let now = JobTx::now(self).await?;
        let rows = query(include_str!("../queries/job/lapsed_running.sql"))
            .bind(now.as_millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(store_error)?;
        rows.iter().map(job).collect()
    }

    async fn next_lapse(&mut self) -> Result<Option<Timestamp>, StoreError> {
        let row = query(include_str!("../queries/job/next_lapse.sql"))
            .fetch_one(&mut *self.conn)
            .await
            .map_err(store_error)?;
        Ok(row.try_get::<Option<i64>, _>(0).map_err(store_error)?.map(Timestamp))
    }
}

#[cfg(test)]
mod tests {
    use crate::plan_check::{GenericPlans, scans_of};

    /// Regression: on a new database, completing jobs slowed down as the jobs table grew (e2e fell from about
    /// 2,000 to under 200 jobs/s within three runs). PostgreSQL settled on generic plans for the statements that
    /// take a list of job ids while the table was still empty, and without an analyze (autovacuum off) it kept
    /// them: a sequential scan, or the key's index narrowed by the namespace only, for every job of it.
    #[tokio::test]
    async fn job_statements_find_jobs_by_index_on_a_plan_made_while_the_table_was_empty() {
        let Some(mut plans) = GenericPlans::new("job_plans").await else { return };
        let update_types = "TEXT[], TEXT[], TEXT[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], BIGINT[], \
                            TEXT[], BIGINT[], TEXT[], TEXT[], TEXT[], BOOLEAN[], BIGINT[], BIGINT[]";
        let update_args = "'{default}', '{j-1}', '{running}', '{1}', '{3}', '{0}', '{1}', '{1}', '{1}', '{w}', \
                           '{1}', '{null}', '{null}', '{\"[]\"}', '{false}', '{1}', '{null}'";
        let by_ids = [
            (
                "get_many_for_update",
                "TEXT, TEXT[]",
                include_str!("../queries/job/get_many_for_update.sql"),
                "'default', '{j-1,j-2}'",
            ),
            ("update_many", update_types, include_str!("../queries/job/update_many.sql"), update_args),
            (
                "claim",
                "TEXT, TEXT[], BIGINT, BIGINT, TEXT",
                include_str!("../queries/job/claim.sql"),
                "'default', '{j-1,j-2}', 30000, 1, 'w'",
            ),
        ];
        for (name, types, sql, args) in by_ids {
            let plan = plans.explain(name, types, sql, args).await;
            let scans = scans_of(&plan, "jobs");
            assert!(
                !scans.is_empty()
                    && scans.iter().all(|line| line.contains("Tid Scan") || line.contains("using jobs_pkey"))
                    && plan.contains("AND (job_id = "),
                "{name} must find each job by its key:\n{plan}"
            );
        }
        // A fetch's claim finds its candidates by index and updates them where they lie.
        let claim = include_str!("../queries/job/claim_unkeyed.sql");
        let types = "TEXT, TEXT, TEXT[], BIGINT, BIGINT, BIGINT, TEXT";
        let plan = plans.explain("claim_unkeyed", types, claim, "'default', 'q', NULL, 10, 30000, 1, 'w'").await;
        let scans = scans_of(&plan, "jobs");
        assert!(
            scans.len() == 2
                && scans.iter().any(|line| line.contains("Index Scan using jobs_"))
                && scans.iter().any(|line| line.contains("Tid Scan")),
            "the claim must find candidates by index and claim them by ctid:\n{plan}"
        );
        // A fetch's first look walks only the queue's waiting jobs, by index.
        let look = include_str!("../queries/job/look_at_queue.sql");
        let plan = plans.explain("look", "TEXT, TEXT, BIGINT, BIGINT", look, "'default', 'q', NULL, 1000").await;
        assert!(
            scans_of(&plan, "jobs").iter().all(|line| line.contains("Index Scan using jobs_")),
            "the look must scan jobs by index only:\n{plan}"
        );
        plans.drop_schema().await;
    }
}
