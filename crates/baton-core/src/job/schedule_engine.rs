//! The schedule rules, once for every backend: saving a definition (its next tick computed by the store's
//! clock), pausing, triggering, and firing due ticks through the job engine's enqueue.

use crate::clock::Timestamp;
use crate::error::{Error, StoreError};
use crate::job::engine::{self, JobTx};
use crate::job::model::{EnqueueOutcome, EnqueueParams, Job, JobId, NewJob, RunAt};
use crate::job::schedule::{CronSpec, Schedule, ScheduleReport};
use crate::namespace::Namespace;
use crate::store::Applied;

/// The statements schedules need on top of [`JobTx`].
#[allow(async_fn_in_trait)]
pub trait ScheduleTx: JobTx {
    /// Reads a schedule and holds it until the transaction ends.
    async fn schedule_for_update(&mut self, namespace: &Namespace, name: &str) -> Result<Option<Schedule>, StoreError>;
    async fn save_schedule(&mut self, schedule: &Schedule) -> Result<(), StoreError>;
    async fn delete_schedule(&mut self, namespace: &Namespace, name: &str) -> Result<bool, StoreError>;
    /// Unpaused schedules whose next tick is due at `now`, held until the transaction ends; rows another node
    /// is firing are skipped.
    async fn due_schedules(&mut self, limit: u32) -> Result<Vec<Schedule>, StoreError>;
    /// The earliest next tick of any unpaused schedule.
    async fn next_schedule_due(&mut self) -> Result<Option<Timestamp>, StoreError>;
}

fn not_found(name: &str) -> Error {
    Error::invalid(crate::error::ErrorCode::NotFound, format!("schedule '{name}' does not exist"))
}

fn spec(schedule: &Schedule) -> Result<CronSpec, Error> {
    CronSpec::parse(&schedule.cron, &schedule.timezone)
}

/// Creates or replaces a schedule, keeping its history. Returns it and whether it is new.
pub async fn save<T: ScheduleTx>(tx: &mut T, mut schedule: Schedule) -> Result<Applied<(Schedule, bool)>, Error> {
    let now = tx.now().await?;
    let existing = tx.schedule_for_update(&schedule.namespace, &schedule.name).await?;
    let created = existing.is_none();
    if let Some(existing) = existing {
        schedule.created_at = existing.created_at;
        schedule.last_fired_at = existing.last_fired_at;
        schedule.last_job_id = existing.last_job_id;
    } else {
        schedule.created_at = now;
    }
    schedule.next_fire_at = if schedule.paused { None } else { spec(&schedule)?.next_after(now) };
    tx.save_schedule(&schedule).await?;
    Ok(Applied::quiet((schedule, created)))
}

/// Pauses (no more ticks) or resumes (the next tick after now; missed ones are not fired).
pub async fn set_paused<T: ScheduleTx>(
    tx: &mut T,
    namespace: &Namespace,
    name: &str,
    paused: bool,
) -> Result<Applied<Schedule>, Error> {
    let now = tx.now().await?;
    let mut schedule = tx.schedule_for_update(namespace, name).await?.ok_or_else(|| not_found(name))?;
    schedule.paused = paused;
    schedule.next_fire_at = if paused { None } else { spec(&schedule)?.next_after(now) };
    tx.save_schedule(&schedule).await?;
    Ok(Applied::quiet(schedule))
}

pub async fn delete<T: ScheduleTx>(tx: &mut T, namespace: &Namespace, name: &str) -> Result<Applied<()>, Error> {
    if !tx.delete_schedule(namespace, name).await? {
        return Err(not_found(name));
    }
    Ok(Applied::quiet(()))
}

/// Enqueues the schedule's job now, outside its ticks.
pub async fn trigger<T: ScheduleTx>(tx: &mut T, namespace: &Namespace, name: &str) -> Result<Applied<Job>, Error> {
    let mut schedule = tx.schedule_for_update(namespace, name).await?.ok_or_else(|| not_found(name))?;
    let now = tx.now().await?;
    let job = NewJob { job_id: JobId::new(), unique: None, run_at: RunAt::Now, ..schedule.job_for_tick(now) };
    let (job, changes) = enqueue_one(tx, namespace, job).await?;
    schedule.last_fired_at = Some(now);
    schedule.last_job_id = Some(job.job_id);
    tx.save_schedule(&schedule).await?;
    Ok(Applied::with(job, changes))
}

async fn enqueue_one<T: JobTx>(
    tx: &mut T,
    namespace: &Namespace,
    job: NewJob,
) -> Result<(Job, Vec<crate::store::Change>), Error> {
    let params = EnqueueParams { namespace: namespace.clone(), jobs: vec![job] };
    let Applied { value, changes } = engine::enqueue(tx, &params).await?;
    let outcome = value.into_iter().next().ok_or_else(|| Error::Store(StoreError::Internal("no outcome".into())))?;
    let job = match outcome {
        EnqueueOutcome::Created(job) | EnqueueOutcome::Duplicate(job) => job,
    };
    Ok((job, changes))
}

/// Fires every due tick (up to `max`): one job per tick, or none when the schedule skips overlaps and its last
/// job is unfinished. A schedule that missed several ticks (the service was down) fires once and moves on to
/// its next tick after now.
pub async fn fire_due<T: ScheduleTx>(tx: &mut T, max: u32) -> Result<Applied<ScheduleReport>, Error> {
    let now = tx.now().await?;
    let mut changes = Vec::new();
    let mut fired = 0;
    for mut schedule in tx.due_schedules(max).await? {
        let Some(tick) = schedule.next_fire_at else { continue };
        let busy = match (schedule.overlap, schedule.last_job_id) {
            (crate::job::schedule::Overlap::Skip, Some(last)) => {
                tx.job_for_update(&schedule.namespace, last).await?.is_some_and(|job| !job.state.is_terminal())
            }
            _ => false,
        };
        if !busy {
            let namespace = schedule.namespace.clone();
            let (job, enqueued) = enqueue_one(tx, &namespace, schedule.job_for_tick(tick)).await?;
            changes.extend(enqueued);
            schedule.last_fired_at = Some(tick);
            schedule.last_job_id = Some(job.job_id);
            fired += 1;
        }
        // An expression that no longer parses (it did when saved) stops rather than firing in a loop.
        schedule.next_fire_at = spec(&schedule).ok().and_then(|spec| spec.next_after(tick.max(now)));
        tx.save_schedule(&schedule).await?;
    }
    let next_due_in_ms = tx.next_schedule_due().await?.map(|due| due.0.saturating_sub(now.0).max(0));
    Ok(Applied::with(ScheduleReport { fired, next_due_in_ms }, changes))
}
