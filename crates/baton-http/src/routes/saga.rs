//! `/api/v1/sagas`: start a declarative saga (the Syros shape), follow it, list and cancel it. Its steps are
//! jobs, so workers take them from `/api/v1/queues/{service}/fetch` like any other job.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use baton_api::error::ErrorBody;
use baton_api::saga::{
    RetryPolicyBody, SagaList, SagaStatusView, SagaStepBody, SagaStepView, SagaView, StartSagaRequest,
};
use baton_core::ErrorCode;
use baton_core::clock::Timestamp;
use baton_core::job::BackoffStrategy;
use baton_core::saga::engine::{SagaRecord, StepRecord};
use baton_core::saga::service::ListSagasRequest;
use baton_core::saga::{RetryPolicy, SagaSpec, SagaState, StepPhase, StepSpec};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sagas", post(start).get(list))
        .route("/api/v1/sagas/{id}", get(show))
        .route("/api/v1/sagas/{id}/status", get(status))
        .route("/api/v1/sagas/{id}/cancel", post(cancel))
}

const IDEMPOTENCY_HEADER: &str = "idempotency-key";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, message)
}

fn retry_policy(step: &str, body: RetryPolicyBody) -> Result<RetryPolicy, ApiError> {
    let backoff_strategy = match body.backoff_strategy.as_deref() {
        None | Some("exponential") => BackoffStrategy::Exponential,
        Some("linear") => BackoffStrategy::Linear,
        Some("fixed") => BackoffStrategy::Fixed,
        Some(other) => {
            return Err(invalid(format!(
                "step '{step}': unknown backoff_strategy '{other}': exponential, linear or fixed"
            )));
        }
    };
    Ok(RetryPolicy {
        max_retries: body.max_retries,
        backoff_strategy,
        initial_delay_ms: body.initial_delay_ms.unwrap_or(1_000),
    })
}

fn step_spec(body: SagaStepBody) -> Result<StepSpec, ApiError> {
    let retry_policy = body.retry_policy.map(|policy| retry_policy(&body.name, policy)).transpose()?;
    Ok(StepSpec {
        name: body.name,
        service: body.service,
        action: body.action,
        compensation: body.compensation,
        timeout_seconds: body.timeout_seconds,
        retry_policy,
        input: body.input,
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get(IDEMPOTENCY_HEADER)
        .map(|value| value.to_str().map(str::to_owned).map_err(|_| invalid("Idempotency-Key must be visible ASCII")))
        .transpose()
}

pub(crate) fn status_view(saga: &SagaRecord, steps: &[StepRecord]) -> SagaStatusView {
    let step_name = |index: Option<usize>| {
        index.and_then(|index| steps.iter().find(|s| s.index == index)).map(|step| step.spec.name.clone())
    };
    SagaStatusView {
        saga_id: saga.saga_id.to_string(),
        namespace: saga.namespace.to_string(),
        name: saga.name.clone(),
        status: saga.state.as_str().to_owned(),
        current_step_index: saga.current_step,
        current_step: step_name(saga.current_step),
        failed_step: step_name(saga.failed_step),
        error: saga.error.clone(),
        cancel_requested: saga.cancel_requested,
        created_at: saga.created_at.to_rfc3339(),
        updated_at: saga.updated_at.to_rfc3339(),
        finished_at: saga.finished_at.map(Timestamp::to_rfc3339),
        metadata: saga.metadata.clone(),
    }
}

fn step_view(step: StepRecord) -> SagaStepView {
    let suffix = match step.phase {
        StepPhase::Action => step.spec.action.clone(),
        StepPhase::Compensation => step.spec.compensation.clone().unwrap_or_default(),
    };
    SagaStepView {
        index: step.index,
        job_type: format!("{}.{suffix}", step.spec.service),
        name: step.spec.name,
        phase: step.phase.as_str().to_owned(),
        state: step.state.as_str().to_owned(),
        job_id: step.job_id.map(|id| id.to_string()),
        attempts: step.attempts,
        output: step.output,
        errors: step.errors,
        started_at: step.started_at.map(Timestamp::to_rfc3339),
        finished_at: step.finished_at.map(Timestamp::to_rfc3339),
    }
}

fn saga_view(saga: SagaRecord, steps: Vec<StepRecord>, created: Option<bool>) -> SagaView {
    let status = status_view(&saga, &steps);
    SagaView { status, input: saga.input, steps: steps.into_iter().map(step_view).collect(), created }
}

/// Starts a saga: 201 with the saga and its first step's job enqueued. With an `Idempotency-Key` already used
/// in this namespace, 200 with the saga that key started (`created: false`), whatever this body says.
#[utoipa::path(post, path = "/api/v1/sagas", tag = "sagas", request_body = StartSagaRequest,
    params(("namespace" = Option<String>, Query), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = SagaView), (status = 200, body = SagaView, description = "The saga this Idempotency-Key started"),
        (status = 422, body = ErrorBody, description = "No steps, duplicate step names, a bad timeout or retry policy, PAYLOAD_TOO_LARGE")))]
pub(crate) async fn start(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    headers: HeaderMap,
    ApiJson(body): ApiJson<StartSagaRequest>,
) -> Result<(StatusCode, Json<SagaView>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let spec = SagaSpec {
        name: body.name,
        steps: body.steps.into_iter().map(step_spec).collect::<Result<_, _>>()?,
        input: body.input,
        metadata: body.metadata,
        idempotency_key: idempotency_key(&headers)?,
    };
    let (saga, steps, created) = state.sagas.start(&namespace, spec).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(saga_view(saga, steps, Some(created)))))
}

/// The saga with its input and full step timeline: every phase's job, attempts, output, errors and times.
#[utoipa::path(get, path = "/api/v1/sagas/{id}", tag = "sagas",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = SagaView), (status = 404, body = ErrorBody, description = "SAGA_NOT_FOUND")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<SagaView>, ApiError> {
    let (saga, steps) = state.sagas.get(&selector.resolve(None)?, &id).await?;
    Ok(Json(saga_view(saga, steps, None)))
}

/// Where the saga is (the Syros status shape).
#[utoipa::path(get, path = "/api/v1/sagas/{id}/status", tag = "sagas",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = SagaStatusView), (status = 404, body = ErrorBody, description = "SAGA_NOT_FOUND")))]
pub(crate) async fn status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<SagaStatusView>, ApiError> {
    let (saga, steps) = state.sagas.get(&selector.resolve(None)?, &id).await?;
    Ok(Json(status_view(&saga, &steps)))
}

/// Cancels a saga that has not finished: its waiting step job is cancelled (a running one is flagged to its
/// worker), then the completed steps are compensated in reverse and the saga ends `cancelled`.
#[utoipa::path(post, path = "/api/v1/sagas/{id}/cancel", tag = "sagas",
    params(("id" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = SagaView), (status = 404, body = ErrorBody, description = "SAGA_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "SAGA_FINISHED")))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<SagaView>, ApiError> {
    let namespace = selector.resolve(None)?;
    let saga = state.sagas.cancel(&namespace, &id).await?;
    let (saga, steps) = state.sagas.get(&namespace, &saga.saga_id.to_string()).await?;
    Ok(Json(saga_view(saga, steps, None)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only sagas in this state.
    state: Option<String>,
    /// Only sagas of this name.
    name: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    namespace: Option<String>,
}

/// Sagas newest first, filtered by state and name, a page at a time.
#[utoipa::path(get, path = "/api/v1/sagas", tag = "sagas", params(ListQuery),
    responses((status = 200, body = SagaList), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<SagaList>, ApiError> {
    let saga_state = query.state.as_deref().map(|raw| raw.parse::<SagaState>().map_err(invalid)).transpose()?;
    let request = ListSagasRequest {
        namespace: selector.resolve(query.namespace.as_deref())?,
        state: saga_state,
        name: query.name,
        cursor: query.cursor,
        limit: query.limit,
    };
    let page = state.sagas.list(request).await?;
    Ok(Json(SagaList {
        sagas: page.items.iter().map(|saga| status_view(saga, &[])).collect(),
        next_cursor: page.next_cursor,
    }))
}
