//! The job duties. The reaper ends attempts whose lease or timeout lapsed (so the job runs again) and prunes
//! finished jobs past their retention; the scheduler fires due cron ticks. Every pass is idempotent and holds
//! each row it changes, so every node of a cluster runs both.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

#[derive(Clone, Debug)]
pub struct JobReaperOptions {
    /// The longest the reaper sleeps without a known deadline: the safety net for leases granted by another
    /// node.
    pub max_idle: Duration,
    pub jobs_per_pass: u32,
    /// Finished jobs older than this are deleted.
    pub retention: Duration,
    pub prune_every: Duration,
}

impl Default for JobReaperOptions {
    fn default() -> Self {
        Self {
            max_idle: Duration::from_secs(1),
            jobs_per_pass: 500,
            retention: Duration::from_secs(24 * 3600),
            prune_every: Duration::from_secs(60),
        }
    }
}

pub struct JobReaper {
    store: Arc<dyn Store>,
    options: JobReaperOptions,
}

impl JobReaper {
    pub fn new(store: Arc<dyn Store>, options: JobReaperOptions) -> Self {
        Self { store, options }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let pause = match self.store.expire_job_leases(self.options.jobs_per_pass).await {
                Ok(report) if report.jobs_expired as u32 >= self.options.jobs_per_pass => Duration::ZERO,
                Ok(report) => report
                    .next_due_in_ms
                    .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                    .map_or(self.options.max_idle, |due| due.min(self.options.max_idle)),
                Err(error) => {
                    tracing::warn!(%error, "job lease expiry pass failed; retrying");
                    self.options.max_idle
                }
            };
            if tokio::time::Instant::now() >= next_prune {
                self.prune().await;
                next_prune = tokio::time::Instant::now() + self.options.prune_every;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn prune(&self) {
        let retention_ms = i64::try_from(self.options.retention.as_millis()).unwrap_or(i64::MAX);
        loop {
            match self.store.prune_jobs(retention_ms, self.options.jobs_per_pass).await {
                Ok(pruned) => {
                    metrics::counter!("baton_jobs_pruned_total").increment(pruned);
                    if pruned < u64::from(self.options.jobs_per_pass) {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "pruning finished jobs failed; will retry");
                    return;
                }
            }
        }
    }
}

/// Fires due cron ticks, sleeping until the next one is due (or a second, to see schedules saved elsewhere).
pub struct Scheduler {
    store: Arc<dyn Store>,
    max_idle: Duration,
}

impl Scheduler {
    const SCHEDULES_PER_PASS: u32 = 100;

    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, max_idle: Duration::from_secs(1) }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.store.fire_due_schedules(Self::SCHEDULES_PER_PASS).await {
                Ok(report) => {
                    metrics::counter!("baton_schedule_ticks_total").increment(report.fired as u64);
                    report
                        .next_due_in_ms
                        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                        .map_or(self.max_idle, |due| due.min(self.max_idle))
                }
                Err(error) => {
                    tracing::warn!(%error, "firing schedules failed; retrying");
                    self.max_idle
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
