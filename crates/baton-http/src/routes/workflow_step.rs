//! The executor's side of `/api/v1/workflows`: checkpoints written under the run's job lease. A checkpoint
//! is written once per index (a repeat answers the first) and a replay that names another step there is
//! refused with `NON_DETERMINISTIC`.

use axum::extract::State;
use axum::routing::{post, put};
use axum::{Json, Router};
use baton_api::error::ErrorBody;
use baton_api::workflow::{RecordStepRequest, RecvRequest, RecvResponse, StepEffectBody, WorkflowStepView};
use baton_core::Namespace;
use baton_core::clock::Timestamp;
use baton_core::job::service::lease_ref;
use baton_core::workflow::{RecordStepParams, RecvParams, StepEffect, StepKind};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, NamespaceSelector};
use crate::routes::workflow_view::{invalid, start_params, step_view};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workflows/{id}/steps/{index}", put(record))
        .route("/api/v1/workflows/{id}/steps/{index}/recv", post(recv))
}

fn effect(namespace: &Namespace, parent_id: &str, body: StepEffectBody) -> Result<StepEffect, ApiError> {
    Ok(match body {
        StepEffectBody::Send { workflow_id, topic, message } => StepEffect::Send { workflow_id, topic, message },
        StepEffectBody::SetEvent { key, value } => StepEffect::SetEvent { key, value },
        StepEffectBody::StartChild(child) => {
            if child.namespace.as_deref().is_some_and(|name| name != namespace.as_str()) {
                return Err(invalid("a child workflow starts in its parent's namespace"));
            }
            StepEffect::StartChild(start_params(namespace.clone(), child, Some(parent_id.to_owned()))?)
        }
    })
}

/// Writes step `index` of the workflow whose run the caller holds, and applies its effect (a message sent,
/// an event set, a child started) in the same transaction. A repeat of a written step answers the first.
#[utoipa::path(put, path = "/api/v1/workflows/{id}/steps/{index}", tag = "workflows", request_body = RecordStepRequest,
    params(("id" = String, Path), ("index" = usize, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = WorkflowStepView),
        (status = 409, body = ErrorBody, description = "STALE_TOKEN, NON_DETERMINISTIC, WORKFLOW_CANCELLED or WORKFLOW_FINISHED")))]
pub(crate) async fn record(
    State(state): State<AppState>,
    ApiPath((id, index)): ApiPath<(String, usize)>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<RecordStepRequest>,
) -> Result<Json<WorkflowStepView>, ApiError> {
    let namespace = selector.resolve(None)?;
    let kind = body.kind.as_deref().map_or(Ok(StepKind::Step), str::parse).map_err(invalid)?;
    let started_at = body
        .started_at
        .as_deref()
        .map(|text| Timestamp::parse_rfc3339(text).ok_or_else(|| invalid("started_at must be an RFC 3339 time")))
        .transpose()?;
    let effect = body.effect.map(|effect_body| effect(&namespace, &id, effect_body)).transpose()?;
    let params = RecordStepParams {
        lease: lease_ref(namespace, &body.job_id, body.lease_token)?,
        workflow_id: id,
        index,
        name: body.name,
        kind,
        output: body.output,
        error: body.error,
        attempts: body.attempts.unwrap_or(1),
        started_at,
        effect,
    };
    Ok(Json(step_view(state.workflows.record_step(params).await?)))
}

/// Takes the oldest waiting message of `topic` as step `index`, once: a repeat answers the step taken. With
/// none waiting the answer has no step, and the executor asks again.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/steps/{index}/recv", tag = "workflows", request_body = RecvRequest,
    params(("id" = String, Path), ("index" = usize, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = RecvResponse),
        (status = 409, body = ErrorBody, description = "STALE_TOKEN, NON_DETERMINISTIC, WORKFLOW_CANCELLED or WORKFLOW_FINISHED")))]
pub(crate) async fn recv(
    State(state): State<AppState>,
    ApiPath((id, index)): ApiPath<(String, usize)>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<RecvRequest>,
) -> Result<Json<RecvResponse>, ApiError> {
    let namespace = selector.resolve(None)?;
    let params = RecvParams {
        lease: lease_ref(namespace, &body.job_id, body.lease_token)?,
        workflow_id: id,
        index,
        name: body.name,
        topic: body.topic,
    };
    let step = state.workflows.recv(params).await?;
    Ok(Json(RecvResponse { step: step.map(step_view) }))
}
