//! `/api/v1/workflows`: start, list, get (with the steps), cancel, resume and fork durable workflows, send
//! them messages and read their events. The code of a workflow runs in an executor (the Rust SDK's), which
//! takes runs from the workflow's queue like any job and checkpoints through `workflow_step`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use baton_api::error::ErrorBody;
use baton_api::workflow::{
    ForkRequest, SendMessageRequest, StartWorkflowRequest, WorkflowEventView, WorkflowList, WorkflowView,
};
use baton_core::workflow::service::ListWorkflowsRequest;
use baton_core::workflow::{ForkParams, WorkflowState};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};
use crate::routes::workflow_step;
use crate::routes::workflow_view::{invalid, start_params, workflow_view};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workflows", post(start).get(list))
        .route("/api/v1/workflows/{id}", get(show))
        .route("/api/v1/workflows/{id}/cancel", post(cancel))
        .route("/api/v1/workflows/{id}/resume", post(resume))
        .route("/api/v1/workflows/{id}/fork", post(fork))
        .route("/api/v1/workflows/{id}/messages", post(send))
        .route("/api/v1/workflows/{id}/events/{key}", get(event))
        .merge(workflow_step::routes())
}

/// Starts a workflow: 201 with its first run enqueued on its queue. An id that exists answers 200 with that
/// workflow (`created: false`), whatever this body says.
#[utoipa::path(post, path = "/api/v1/workflows", tag = "workflows", request_body = StartWorkflowRequest,
    params(("namespace" = Option<String>, Query)),
    responses((status = 201, body = WorkflowView), (status = 200, body = WorkflowView, description = "The workflow with this id"),
        (status = 422, body = ErrorBody, description = "A bad name, queue, priority or timeout, PAYLOAD_TOO_LARGE")))]
pub(crate) async fn start(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<StartWorkflowRequest>,
) -> Result<(StatusCode, Json<WorkflowView>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let (workflow, created) = state.workflows.start(start_params(namespace, body, None)?).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(workflow_view(workflow, None, Some(created)))))
}

/// The workflow with every recorded step: what a replay is handed back.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody, description = "WORKFLOW_NOT_FOUND")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<WorkflowView>, ApiError> {
    let (workflow, steps) = state.workflows.get(&selector.resolve(None)?, &id).await?;
    Ok(Json(workflow_view(workflow, Some(steps), None)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only workflows in this state: `running`, `completed`, `failed` or `cancelled`.
    state: Option<String>,
    /// Only workflows of this name.
    name: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    namespace: Option<String>,
}

/// Workflows newest first, without their steps, a page at a time.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", params(ListQuery),
    responses((status = 200, body = WorkflowList), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<WorkflowList>, ApiError> {
    let workflow_state = query.state.as_deref().map(|raw| raw.parse::<WorkflowState>().map_err(invalid)).transpose()?;
    let request = ListWorkflowsRequest {
        namespace: selector.resolve(query.namespace.as_deref())?,
        state: workflow_state,
        name: query.name,
        cursor: query.cursor,
        limit: query.limit,
    };
    let page = state.workflows.list(request).await?;
    Ok(Json(WorkflowList {
        workflows: page.items.into_iter().map(|workflow| workflow_view(workflow, None, None)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Cancels a workflow that has not finished: a waiting run ends at once; a running one is flagged, and its
/// executor stops at its next checkpoint or heartbeat.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/cancel", tag = "workflows",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody, description = "WORKFLOW_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "WORKFLOW_FINISHED")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<WorkflowView>, ApiError> {
    let workflow = state.workflows.cancel(&selector.resolve(None)?, &id).await?;
    Ok(Json(workflow_view(workflow, None, None)))
}

/// Runs a failed or cancelled workflow again from its checkpoints (without its timeout). A running one is
/// answered as it is.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/resume", tag = "workflows",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = WorkflowView), (status = 404, body = ErrorBody, description = "WORKFLOW_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "WORKFLOW_FINISHED: it completed")))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<WorkflowView>, ApiError> {
    let workflow = state.workflows.resume(&selector.resolve(None)?, &id).await?;
    Ok(Json(workflow_view(workflow, None, None)))
}

/// Starts a new workflow with this one's name, input and options, reusing its checkpoints before `from_step`.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/fork", tag = "workflows", request_body = ForkRequest,
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 201, body = WorkflowView), (status = 404, body = ErrorBody, description = "WORKFLOW_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "WORKFLOW_EXISTS: the new id is taken")))]
pub(crate) async fn fork(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<ForkRequest>,
) -> Result<(StatusCode, Json<WorkflowView>), ApiError> {
    let params = ForkParams {
        namespace: selector.resolve(None)?,
        workflow_id: id,
        new_id: body.workflow_id.unwrap_or_else(|| Uuid::now_v7().to_string()),
        from_step: body.from_step,
    };
    let workflow = state.workflows.fork(params).await?;
    Ok((StatusCode::CREATED, Json(workflow_view(workflow, None, Some(true)))))
}

/// Sends a message to the workflow's `recv(topic)`. It is stored at once and received exactly once.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/messages", tag = "workflows", request_body = SendMessageRequest,
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 202, description = "Stored for the workflow"), (status = 404, body = ErrorBody, description = "WORKFLOW_NOT_FOUND")))]
pub(crate) async fn send(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<StatusCode, ApiError> {
    state.workflows.send(&selector.resolve(None)?, &id, &body.topic, body.message).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The latest value the workflow set for the event `key`; `set: false` while it has not.
#[utoipa::path(get, path = "/api/v1/workflows/{id}/events/{key}", tag = "workflows",
    params(("id" = String, Path), ("key" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = WorkflowEventView), (status = 404, body = ErrorBody, description = "WORKFLOW_NOT_FOUND")))]
pub(crate) async fn event(
    State(state): State<AppState>,
    ApiPath((id, key)): ApiPath<(String, String)>,
    selector: NamespaceSelector,
) -> Result<Json<WorkflowEventView>, ApiError> {
    let value = state.workflows.event(&selector.resolve(None)?, &id, &key).await?;
    Ok(Json(WorkflowEventView { workflow_id: id, key, set: value.is_some(), value }))
}
