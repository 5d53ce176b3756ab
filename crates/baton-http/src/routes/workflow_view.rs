//! Converts between workflow wire bodies and the core's records.

use baton_api::workflow::{StartWorkflowRequest, WorkflowStepView, WorkflowView};
use baton_core::clock::Timestamp;
use baton_core::workflow::{StartWorkflowParams, WorkflowOptions, WorkflowRecord, WorkflowStep};
use baton_core::{ErrorCode, Namespace};
use uuid::Uuid;

use crate::error::ApiError;

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, message)
}

/// A start body as the core's parameters; the service checks the ranges.
pub(crate) fn start_params(
    namespace: Namespace,
    body: StartWorkflowRequest,
    parent_id: Option<String>,
) -> Result<StartWorkflowParams, ApiError> {
    let timeout_ms = body.timeout_seconds.map(timeout_ms).transpose()?;
    let defaults = WorkflowOptions::default();
    Ok(StartWorkflowParams {
        namespace,
        workflow_id: body.workflow_id.unwrap_or_else(|| Uuid::now_v7().to_string()),
        name: body.name,
        input: body.input,
        options: WorkflowOptions {
            queue: body.queue.unwrap_or(defaults.queue),
            priority: body.priority.unwrap_or(defaults.priority),
            timeout_ms,
        },
        parent_id,
    })
}

fn timeout_ms(seconds: f64) -> Result<i64, ApiError> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(invalid("timeout_seconds must be a positive number"));
    }
    // Saturating: a huge value is then refused by the service's upper bound, not wrapped.
    Ok((seconds * 1000.0).ceil() as i64)
}

pub(crate) fn step_view(step: WorkflowStep) -> WorkflowStepView {
    WorkflowStepView {
        index: step.index,
        name: step.name,
        kind: step.kind.as_str().to_owned(),
        output: step.output,
        error: step.error,
        attempts: step.attempts,
        started_at: step.started_at.to_rfc3339(),
        finished_at: step.finished_at.to_rfc3339(),
    }
}

pub(crate) fn workflow_view(
    workflow: WorkflowRecord,
    steps: Option<Vec<WorkflowStep>>,
    created: Option<bool>,
) -> WorkflowView {
    WorkflowView {
        workflow_id: workflow.workflow_id,
        namespace: workflow.namespace.to_string(),
        name: workflow.name,
        state: workflow.state.as_str().to_owned(),
        input: workflow.input,
        output: workflow.output,
        error: workflow.error,
        queue: workflow.options.queue,
        priority: workflow.options.priority,
        timeout_ms: workflow.options.timeout_ms,
        parent_id: workflow.parent_id,
        job_id: workflow.job_id.map(|id| id.to_string()),
        cancel_requested: workflow.cancel_requested,
        created_at: workflow.created_at.to_rfc3339(),
        updated_at: workflow.updated_at.to_rfc3339(),
        finished_at: workflow.finished_at.map(Timestamp::to_rfc3339),
        steps: steps.map(|steps| steps.into_iter().map(step_view).collect()),
        created,
    }
}
