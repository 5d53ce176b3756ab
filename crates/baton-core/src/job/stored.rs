//! Jobs, schedules and job types as both backends store them (see [`crate::stored`]): the records are
//! assembled once, here.

use crate::clock::Timestamp;
use crate::error::StoreError;
use crate::job::job_type::JobType;
use crate::job::model::{Job, JobId, JobState, LeaseToken, QueueSettings, RateLimit, RateWindow};
use crate::job::schedule::{Overlap, Schedule};
use crate::stored::{StoredRow, corrupt, decode, decode_optional, encode, namespace, time};

fn job_id(text: &str) -> Result<JobId, StoreError> {
    JobId::parse(text).ok_or_else(|| corrupt("job id"))
}

fn count(row: &impl StoredRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(row.int(column)?).map_err(|_| corrupt(column))
}

pub fn job(row: &impl StoredRow) -> Result<Job, StoreError> {
    let value = |column: &str| decode_optional(row.optional_text(column)?, column);
    Ok(Job {
        job_id: job_id(&row.text("job_id")?)?,
        namespace: namespace(row)?,
        queue: row.text("queue")?,
        job_type: row.text("job_type")?,
        payload: decode(&row.text("payload")?, "payload")?,
        priority: i32::try_from(row.int("priority")?).map_err(|_| corrupt("priority"))?,
        state: row.text("state")?.parse::<JobState>().map_err(|_| corrupt("job state"))?,
        attempt: count(row, "attempt")?,
        max_attempts: count(row, "max_attempts")?,
        backoff: decode(&row.text("backoff")?, "backoff")?,
        timeout_ms: row.optional_int("timeout_ms")?,
        run_at: Timestamp(row.int("run_at")?),
        lease_token: row.optional_int("lease_token")?.map(LeaseToken),
        lease_ms: row.optional_int("lease_ms")?,
        lease_expires_at: time(row, "lease_expires_at")?,
        worker_id: row.optional_text("worker_id")?,
        heartbeat_at: time(row, "heartbeat_at")?,
        progress: value("progress")?,
        result: value("result")?,
        errors: decode(&row.text("errors")?, "errors")?,
        unique_key: row.optional_text("unique_key")?,
        concurrency_key: row.optional_text("concurrency_key")?,
        tags: decode(&row.text("tags")?, "tags")?,
        metadata: value("metadata")?,
        trace_context: row.optional_text("trace_context")?,
        cancel_requested: row.flag("cancel_requested")?,
        created_at: Timestamp(row.int("created_at")?),
        attempted_at: time(row, "attempted_at")?,
        finalized_at: time(row, "finalized_at")?,
    })
}

/// A `job_queues` row; `None` when the row is the empty side of an outer join (nothing stored for the queue).
pub fn queue_settings(row: &impl StoredRow) -> Result<Option<(String, QueueSettings)>, StoreError> {
    let Some(paused) = row.optional_flag("paused")? else { return Ok(None) };
    let limit = |column: &str| -> Result<Option<u32>, StoreError> {
        row.optional_int(column)?.map(|value| u32::try_from(value).map_err(|_| corrupt(column))).transpose()
    };
    let rate_limit = match (limit("rate_limit")?, row.optional_int("rate_period_ms")?) {
        (Some(limit), Some(period_ms)) => Some(RateLimit { limit, period_ms }),
        _ => None,
    };
    let settings = QueueSettings {
        paused,
        global_concurrency: limit("global_concurrency")?,
        rate_limit,
        per_key_concurrency: limit("per_key_concurrency")?.unwrap_or(QueueSettings::DEFAULT_PER_KEY_CONCURRENCY),
        rate_window: RateWindow {
            started_at: Timestamp(row.optional_int("rate_window_start")?.unwrap_or(0)),
            taken: limit("rate_window_taken")?.unwrap_or(0),
        },
    };
    Ok(Some((row.text("queue")?, settings)))
}

pub fn schedule(row: &impl StoredRow) -> Result<Schedule, StoreError> {
    Ok(Schedule {
        namespace: namespace(row)?,
        name: row.text("name")?,
        cron: row.text("cron")?,
        timezone: row.text("timezone")?,
        queue: row.text("queue")?,
        template: decode(&row.text("template")?, "template")?,
        overlap: Overlap::parse(&row.text("overlap")?).ok_or_else(|| corrupt("overlap"))?,
        paused: row.flag("paused")?,
        next_fire_at: time(row, "next_fire_at")?,
        last_fired_at: time(row, "last_fired_at")?,
        last_job_id: row.optional_text("last_job_id")?.map(|id| job_id(&id)).transpose()?,
        created_at: Timestamp(row.int("created_at")?),
    })
}

pub fn job_type(row: &impl StoredRow) -> Result<JobType, StoreError> {
    Ok(JobType {
        namespace: namespace(row)?,
        job_type: row.text("job_type")?,
        executor: row.text("executor")?,
        config: decode(&row.text("config")?, "executor config")?,
        queue: row.optional_text("queue")?,
        timeout_ms: row.optional_int("timeout_ms")?,
        updated_at: Timestamp(row.int("updated_at")?),
    })
}

/// A set of states as a JSON array of names, for statements that take a list.
pub fn encode_states(states: &[JobState]) -> Result<String, StoreError> {
    encode(&states.iter().map(|state| state.as_str()).collect::<Vec<_>>())
}
