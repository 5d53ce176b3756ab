//! Checking a job as a client describes it ([`JobSpec`]) and turning it into one ready to store: every size
//! and range limit on a job lives here, once, for enqueues and schedule templates alike.

use std::time::Duration;

use serde_json::Value;

use crate::clock::Timestamp;
use crate::error::{Error, ErrorCode};
use crate::job::model::{Backoff, JobId, JobState, NewJob, OnConflict, RunAt, Uniqueness};
use crate::job::service::JobService;

const MAX_NAME_BYTES: usize = 128;
const MAX_TAGS: usize = 32;
const MAX_PRIORITY: i32 = 1000;
const MAX_ATTEMPTS: u32 = 1000;
const DEFAULT_MAX_ATTEMPTS: u32 = 20;
const MAX_JOB_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest delay, retry delay or uniqueness window.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(366 * 24 * 3600);

/// One job as a client describes it.
#[derive(Clone, Debug, Default)]
pub struct JobSpec {
    pub queue: String,
    pub job_type: String,
    pub payload: Value,
    pub priority: Option<i32>,
    /// An absolute start time, in milliseconds since the epoch; exclusive with `delay_ms`.
    pub run_at: Option<Timestamp>,
    pub delay_ms: Option<i64>,
    pub max_attempts: Option<u32>,
    pub backoff: Option<Backoff>,
    pub timeout_seconds: Option<u64>,
    pub unique_key: Option<String>,
    pub unique_for_seconds: Option<u64>,
    pub unique_states: Option<Vec<JobState>>,
    pub on_conflict: Option<OnConflict>,
    pub concurrency_key: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Option<Value>,
    pub trace_context: Option<String>,
}

impl JobService {
    /// Checks a job as a client described it and turns it into one ready to store.
    pub(crate) fn validate_job(&self, spec: JobSpec) -> Result<NewJob, Error> {
        check_name("queue", &spec.queue)?;
        check_name("type", &spec.job_type)?;
        self.check_json_size("payload", Some(&spec.payload))?;
        self.check_json_size("metadata", spec.metadata.as_ref())?;
        let priority = spec.priority.unwrap_or(0);
        if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&priority) {
            return Err(invalid(format!("priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}")));
        }
        let run_at = match (spec.run_at, spec.delay_ms) {
            (Some(_), Some(_)) => return Err(invalid("give run_at or delay_seconds, not both")),
            (Some(at), None) => RunAt::At(at),
            (None, Some(delay)) if delay < 0 => return Err(invalid("delay must not be negative")),
            (None, Some(delay)) if delay > duration_ms(MAX_DELAY) => {
                return Err(invalid(format!("delay must be at most {} seconds", MAX_DELAY.as_secs())));
            }
            (None, Some(0)) | (None, None) => RunAt::Now,
            (None, Some(delay_ms)) => RunAt::After { delay_ms },
        };
        let max_attempts = spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 || max_attempts > MAX_ATTEMPTS {
            return Err(invalid(format!("max_attempts must be between 1 and {MAX_ATTEMPTS}")));
        }
        let backoff = spec.backoff.unwrap_or_default();
        check_backoff(&backoff)?;
        let timeout_ms = spec
            .timeout_seconds
            .map(|seconds| check_seconds("timeout_seconds", seconds, MAX_JOB_TIMEOUT))
            .transpose()?;
        let unique = match spec.unique_key {
            None if spec.unique_for_seconds.is_some() || spec.unique_states.is_some() || spec.on_conflict.is_some() => {
                return Err(invalid("unique_for_seconds, unique_states and on_conflict need a unique_key"));
            }
            None => None,
            Some(key) => {
                check_name("unique_key", &key).or_else(|_| check_long_name("unique_key", &key))?;
                let for_ms =
                    spec.unique_for_seconds.map(|s| check_seconds("unique_for_seconds", s, MAX_DELAY)).transpose()?;
                let states = spec.unique_states.unwrap_or_else(|| {
                    vec![JobState::Scheduled, JobState::Available, JobState::Running, JobState::Retryable]
                });
                if states.is_empty() {
                    return Err(invalid("unique_states must name at least one state"));
                }
                Some(Uniqueness { key, for_ms, states, on_conflict: spec.on_conflict.unwrap_or_default() })
            }
        };
        if let Some(key) = &spec.concurrency_key {
            check_long_name("concurrency_key", key)?;
        }
        if spec.tags.len() > MAX_TAGS {
            return Err(invalid(format!("a job may carry at most {MAX_TAGS} tags")));
        }
        for tag in &spec.tags {
            check_name("tag", tag)?;
        }
        if spec.trace_context.as_ref().is_some_and(|trace| trace.len() > 512 || trace.chars().any(char::is_control)) {
            return Err(invalid("trace_context must be at most 512 bytes without control characters"));
        }
        Ok(NewJob {
            job_id: JobId::new(),
            queue: spec.queue,
            job_type: spec.job_type,
            payload: spec.payload,
            priority,
            run_at,
            max_attempts,
            backoff,
            timeout_ms,
            unique,
            concurrency_key: spec.concurrency_key,
            tags: spec.tags,
            metadata: spec.metadata,
            trace_context: spec.trace_context,
        })
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidArgument, message)
}

/// Queue, type and tag names: 1 to 128 bytes of letters, digits and `_ - . : /`.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/');
    if name.is_empty() || name.len() > MAX_NAME_BYTES || !name.chars().all(allowed) {
        return Err(invalid(format!(
            "{what} must be 1 to {MAX_NAME_BYTES} characters of letters, digits, '_', '-', '.', ':' and '/'"
        )));
    }
    Ok(())
}

/// Free-form keys (unique and concurrency keys): 1 to 512 bytes, no control characters.
fn check_long_name(what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 512 || name.chars().any(char::is_control) {
        return Err(invalid(format!("{what} must be 1 to 512 bytes without control characters")));
    }
    Ok(())
}

fn check_backoff(backoff: &Backoff) -> Result<(), Error> {
    let max = duration_ms(MAX_DELAY);
    if !(0..=max).contains(&backoff.initial_delay_ms) || !(0..=max).contains(&backoff.max_delay_ms) {
        return Err(invalid(format!("backoff delays must be between 0 and {max} ms")));
    }
    if backoff.max_delay_ms < backoff.initial_delay_ms {
        return Err(invalid("backoff.max_delay_ms must be at least initial_delay_ms"));
    }
    if !(0.0..=1.0).contains(&backoff.jitter) {
        return Err(invalid("backoff.jitter must be between 0 and 1"));
    }
    Ok(())
}

pub(crate) fn check_seconds(what: &str, seconds: u64, max: Duration) -> Result<i64, Error> {
    if seconds == 0 || seconds > max.as_secs() {
        return Err(invalid(format!("{what} must be between 1 and {}", max.as_secs())));
    }
    Ok(duration_ms(Duration::from_secs(seconds)))
}

pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
