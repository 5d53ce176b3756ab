//! Checking a saga as a client declares it, and turning a step into the job that performs it. Every size and
//! range limit on a saga lives here, once.

use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorCode};
use crate::job::{Backoff, spec::JobSpec};
use crate::limits::Limits;
use crate::saga::model::{SagaId, SagaSpec, StepPhase, StepSpec};

/// The most steps one saga may declare.
pub const MAX_STEPS: usize = 100;
/// The longest timeout per attempt of a step: a week, as for any job.
pub const MAX_STEP_TIMEOUT_SECONDS: i64 = 7 * 24 * 3600;
/// The most retries a step may ask for (the job engine allows 1000 attempts).
pub const MAX_RETRIES: i64 = 999;
/// The longest first retry delay: a day.
pub const MAX_INITIAL_DELAY_MS: i64 = 24 * 3600 * 1000;

/// Checks a whole saga before anything is stored.
pub fn validate(spec: &SagaSpec, limits: &Limits) -> Result<(), Error> {
    limits.check_key("saga name", &spec.name)?;
    if spec.steps.is_empty() {
        return Err(invalid("a saga needs at least one step"));
    }
    if spec.steps.len() > MAX_STEPS {
        return Err(Error::invalid(
            ErrorCode::BatchTooLarge,
            format!("a saga holds at most {MAX_STEPS} steps; this one has {}", spec.steps.len()),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, step) in spec.steps.iter().enumerate() {
        if !seen.insert(step.name.as_str()) {
            return Err(invalid(format!("step {index}: the name '{}' is used by an earlier step", step.name)));
        }
        validate_step(index, step, limits)?;
    }
    limits.check_payload("saga input", spec.input.as_ref())?;
    limits.check_metadata("saga metadata", spec.metadata.as_ref())?;
    if let Some(key) = &spec.idempotency_key
        && (key.is_empty() || key.len() > 512 || key.chars().any(char::is_control))
    {
        return Err(invalid("Idempotency-Key must be 1 to 512 bytes without control characters"));
    }
    Ok(())
}

fn validate_step(index: usize, step: &StepSpec, limits: &Limits) -> Result<(), Error> {
    limits.check_key(&format!("step {index} name"), &step.name)?;
    crate::job::spec::check_name(&format!("step '{}' service", step.name), &step.service)?;
    crate::job::spec::check_name(&format!("step '{}' action", step.name), &step.action)?;
    if let Some(compensation) = &step.compensation {
        crate::job::spec::check_name(&format!("step '{}' compensation", step.name), compensation)?;
    }
    if !(1..=MAX_STEP_TIMEOUT_SECONDS).contains(&step.timeout_seconds) {
        return Err(invalid(format!(
            "step '{}': timeout_seconds must be between 1 and {MAX_STEP_TIMEOUT_SECONDS}",
            step.name
        )));
    }
    if let Some(policy) = &step.retry_policy {
        if !(0..=MAX_RETRIES).contains(&policy.max_retries) {
            return Err(invalid(format!("step '{}': max_retries must be between 0 and {MAX_RETRIES}", step.name)));
        }
        if !(0..=MAX_INITIAL_DELAY_MS).contains(&policy.initial_delay_ms) {
            return Err(invalid(format!(
                "step '{}': initial_delay_ms must be between 0 and {MAX_INITIAL_DELAY_MS}",
                step.name
            )));
        }
    }
    limits.check_payload(&format!("step '{}' input", step.name), step.input.as_ref())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::InvalidArgument, message)
}

/// The payload every step job carries: the saga's input, the step's own input, and the outputs of the steps
/// completed before it, by step name. A compensation sees the same, plus its own action's output.
///
/// `{"saga_id", "saga", "step", "phase", "input", "step_input", "outputs": {step_name: output}}`
pub fn step_payload(
    saga_id: SagaId,
    saga_name: &str,
    step: &StepSpec,
    phase: StepPhase,
    input: Option<&Value>,
    outputs: Map<String, Value>,
) -> Value {
    json!({
        "saga_id": saga_id,
        "saga": saga_name,
        "step": step.name,
        "phase": phase.as_str(),
        "input": input.cloned().unwrap_or(Value::Null),
        "step_input": step.input.clone().unwrap_or(Value::Null),
        "outputs": outputs,
    })
}

/// The job that performs one phase of a step: type `{service}.{action|compensation}` on queue `{service}`,
/// retried by the step's policy with the job's own attempts and backoff, each attempt bounded by the step's
/// timeout. Only a step with a compensation has a compensation job.
pub fn step_job(step: &StepSpec, phase: StepPhase, payload: Value) -> Option<JobSpec> {
    let suffix = match phase {
        StepPhase::Action => &step.action,
        StepPhase::Compensation => step.compensation.as_ref()?,
    };
    let (max_attempts, backoff) = match &step.retry_policy {
        None => (1, Backoff::default()),
        Some(policy) => (
            u32::try_from(policy.max_retries + 1).unwrap_or(u32::MAX),
            Backoff {
                strategy: policy.backoff_strategy,
                initial_delay_ms: policy.initial_delay_ms,
                max_delay_ms: Backoff::default().max_delay_ms.max(policy.initial_delay_ms),
                // Exact delays, so a saga's retry timing is what its policy says.
                jitter: 0.0,
            },
        ),
    };
    Some(JobSpec {
        queue: step.service.clone(),
        job_type: format!("{}.{suffix}", step.service),
        payload,
        max_attempts: Some(max_attempts),
        backoff: Some(backoff),
        timeout_seconds: u64::try_from(step.timeout_seconds).ok(),
        ..JobSpec::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::BackoffStrategy;
    use crate::saga::model::RetryPolicy;

    fn step(name: &str) -> StepSpec {
        StepSpec {
            name: name.into(),
            service: "payments".into(),
            action: "charge".into(),
            compensation: Some("refund".into()),
            timeout_seconds: 30,
            retry_policy: None,
            input: None,
        }
    }

    fn saga(steps: Vec<StepSpec>) -> SagaSpec {
        SagaSpec { name: "order".into(), steps, ..SagaSpec::default() }
    }

    fn refused(spec: SagaSpec) -> (&'static str, String) {
        let error = validate(&spec, &Limits::default()).unwrap_err();
        (error.code().as_str(), error.to_string())
    }

    #[test]
    fn bad_sagas_are_refused_with_their_codes() {
        assert_eq!(refused(saga(vec![])).0, "INVALID_ARGUMENT");
        let (code, message) = refused(saga(vec![step("a"), step("a")]));
        assert_eq!(code, "INVALID_ARGUMENT");
        assert!(message.contains("'a'"), "{message}");
        assert_eq!(refused(saga(vec![StepSpec { timeout_seconds: -1, ..step("a") }])).0, "INVALID_ARGUMENT");
        assert_eq!(refused(saga(vec![StepSpec { timeout_seconds: 0, ..step("a") }])).0, "INVALID_ARGUMENT");
        let bad_retry = RetryPolicy { max_retries: -1, backoff_strategy: BackoffStrategy::Fixed, initial_delay_ms: 0 };
        assert_eq!(refused(saga(vec![StepSpec { retry_policy: Some(bad_retry), ..step("a") }])).0, "INVALID_ARGUMENT");
        let big = Value::String("x".repeat(Limits::default().max_job_payload_bytes + 1));
        assert_eq!(refused(SagaSpec { input: Some(big), ..saga(vec![step("a")]) }).0, "PAYLOAD_TOO_LARGE");
        let many = (0..=MAX_STEPS).map(|i| step(&format!("s{i}"))).collect();
        assert_eq!(refused(saga(many)).0, "BATCH_TOO_LARGE");
        assert!(validate(&saga(vec![step("a"), step("b")]), &Limits::default()).is_ok());
    }

    #[test]
    fn a_step_runs_as_a_job_on_its_service_queue_retried_by_its_policy() {
        let policy = RetryPolicy { max_retries: 3, backoff_strategy: BackoffStrategy::Linear, initial_delay_ms: 500 };
        let step = StepSpec { retry_policy: Some(policy), ..step("charge") };
        let job = step_job(&step, StepPhase::Action, Value::Null).unwrap();
        assert_eq!((job.queue.as_str(), job.job_type.as_str()), ("payments", "payments.charge"));
        assert_eq!((job.max_attempts, job.timeout_seconds), (Some(4), Some(30)));
        let backoff = job.backoff.unwrap();
        assert_eq!((backoff.strategy, backoff.initial_delay_ms, backoff.jitter), (BackoffStrategy::Linear, 500, 0.0));
        let undo = step_job(&step, StepPhase::Compensation, Value::Null).unwrap();
        assert_eq!(undo.job_type, "payments.refund");
        assert!(step_job(&StepSpec { compensation: None, ..step }, StepPhase::Compensation, Value::Null).is_none());
    }
}
