//! Turning stored jobs and wire bodies into each other: the one place that knows both shapes.

use baton_api::job::{AttemptErrorView, BackoffBody, EnqueueJob, JobView};
use baton_core::ErrorCode;
use baton_core::clock::Timestamp;
use baton_core::job::spec::JobSpec;
use baton_core::job::{Backoff, BackoffStrategy, Job, JobState, OnConflict};

use crate::error::ApiError;

pub(crate) fn job_view(job: Job, deduplicated: bool) -> JobView {
    let rfc3339 = |at: Option<Timestamp>| at.map(Timestamp::to_rfc3339);
    JobView {
        job_id: job.job_id.to_string(),
        namespace: job.namespace.to_string(),
        queue: job.queue,
        job_type: job.job_type,
        payload: job.payload,
        priority: job.priority,
        state: job.state.to_string(),
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        backoff: BackoffBody {
            strategy: Some(strategy_name(job.backoff.strategy).to_owned()),
            initial_delay_ms: Some(job.backoff.initial_delay_ms),
            max_delay_ms: Some(job.backoff.max_delay_ms),
            jitter: Some(job.backoff.jitter),
        },
        timeout_seconds: job.timeout_ms.map(|ms| ms / 1000),
        run_at: job.run_at.to_rfc3339(),
        lease_token: job.lease_token.map(|token| token.0),
        lease_expires_at: rfc3339(job.lease_expires_at),
        worker_id: job.worker_id,
        heartbeat_at: rfc3339(job.heartbeat_at),
        progress: job.progress,
        result: job.result,
        errors: job
            .errors
            .into_iter()
            .map(|e| AttemptErrorView { attempt: e.attempt, error: e.error, at: e.at.to_rfc3339() })
            .collect(),
        unique_key: job.unique_key,
        concurrency_key: job.concurrency_key,
        tags: job.tags,
        metadata: job.metadata,
        trace_context: job.trace_context,
        cancel_requested: job.cancel_requested,
        created_at: job.created_at.to_rfc3339(),
        attempted_at: rfc3339(job.attempted_at),
        finalized_at: rfc3339(job.finalized_at),
        deduplicated,
    }
}

fn strategy_name(strategy: BackoffStrategy) -> &'static str {
    match strategy {
        BackoffStrategy::Exponential => "exponential",
        BackoffStrategy::Linear => "linear",
        BackoffStrategy::Fixed => "fixed",
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, message)
}

pub(crate) fn parse_state(raw: &str) -> Result<JobState, ApiError> {
    raw.parse::<JobState>().map_err(invalid)
}

fn backoff(body: BackoffBody) -> Result<Backoff, ApiError> {
    let defaults = Backoff::default();
    let strategy = match body.strategy.as_deref() {
        None | Some("exponential") => BackoffStrategy::Exponential,
        Some("linear") => BackoffStrategy::Linear,
        Some("fixed") => BackoffStrategy::Fixed,
        Some(other) => {
            return Err(invalid(format!("unknown backoff strategy '{other}': exponential, linear or fixed")));
        }
    };
    Ok(Backoff {
        strategy,
        initial_delay_ms: body.initial_delay_ms.unwrap_or(defaults.initial_delay_ms),
        max_delay_ms: body.max_delay_ms.unwrap_or(defaults.max_delay_ms),
        jitter: body.jitter.unwrap_or(defaults.jitter),
    })
}

/// A job from the wire, for queue `queue`. `traceparent` is the request's header, used when the body has none.
pub(crate) fn job_spec(queue: &str, body: EnqueueJob, traceparent: Option<&str>) -> Result<JobSpec, ApiError> {
    let run_at = body
        .run_at
        .as_deref()
        .map(|text| Timestamp::parse_rfc3339(text).ok_or_else(|| invalid(format!("run_at '{text}' is not RFC 3339"))))
        .transpose()?;
    let delay_ms = match (body.delay_seconds, body.delay_ms) {
        (Some(_), Some(_)) => return Err(invalid("give delay_seconds or delay_ms, not both")),
        (Some(seconds), None) => Some(seconds.saturating_mul(1000)),
        (None, ms) => ms,
    };
    let unique_states = body
        .unique_states
        .map(|states| states.iter().map(|state| parse_state(state)).collect::<Result<Vec<_>, _>>())
        .transpose()?;
    let on_conflict = match body.on_conflict.as_deref() {
        None | Some("existing") => None,
        Some("reject") => Some(OnConflict::Reject),
        Some(other) => return Err(invalid(format!("unknown on_conflict '{other}': existing or reject"))),
    };
    Ok(JobSpec {
        queue: queue.to_owned(),
        job_type: body.job_type,
        payload: body.payload,
        priority: body.priority,
        run_at,
        delay_ms,
        max_attempts: body.max_attempts,
        backoff: body.backoff.map(backoff).transpose()?,
        timeout_seconds: body.timeout_seconds,
        unique_key: body.unique_key,
        unique_for_seconds: body.unique_for_seconds,
        unique_states,
        on_conflict,
        concurrency_key: body.concurrency_key,
        tags: body.tags,
        metadata: body.metadata,
        trace_context: body.trace_context.or_else(|| traceparent.map(str::to_owned)),
    })
}
