//! `/api/v1/job-types`: job types run by a built-in executor (a shell command or an HTTP call).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use baton_api::error::ErrorBody;
use baton_api::job::{JobTypeList, JobTypeRequest, JobTypeView};
use baton_core::job::job_type::{JobType, JobTypeRequest as CoreRequest};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/job-types", get(list))
        .route("/api/v1/job-types/{name}", get(show).put(save).delete(remove))
}

/// The wire form of a registered job type; the server's executor pool reads the registry in this form too.
pub fn job_type_view(job_type: JobType) -> JobTypeView {
    JobTypeView {
        queue: job_type.queue().to_owned(),
        job_type: job_type.job_type,
        namespace: job_type.namespace.to_string(),
        executor: job_type.executor,
        config: job_type.config,
        timeout_seconds: job_type.timeout_ms.map(|ms| ms / 1000),
        updated_at: job_type.updated_at.to_rfc3339(),
    }
}

/// Register (or replace) how jobs of this type run. The executor config is checked now, not at run time.
#[utoipa::path(put, path = "/api/v1/job-types/{name}", tag = "jobs", request_body = JobTypeRequest,
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses(
        (status = 201, body = JobTypeView, description = "Registered"),
        (status = 200, body = JobTypeView, description = "Replaced"),
        (status = 422, body = ErrorBody, description = "Unknown executor or invalid config"),
    ))]
pub(crate) async fn save(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<JobTypeRequest>,
) -> Result<(StatusCode, Json<JobTypeView>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let request = CoreRequest {
        executor: body.executor,
        config: body.config,
        queue: body.queue,
        timeout_seconds: body.timeout_seconds,
    };
    let (job_type, created) = state.jobs.save_job_type(namespace, &name, request).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(job_type_view(job_type))))
}

#[utoipa::path(get, path = "/api/v1/job-types", tag = "jobs",
    params(("namespace" = Option<String>, Query)), responses((status = 200, body = JobTypeList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
) -> Result<Json<JobTypeList>, ApiError> {
    let namespace = selector.resolve(None)?;
    let job_types = state.jobs.job_types(Some(&namespace)).await?;
    Ok(Json(JobTypeList { job_types: job_types.into_iter().map(job_type_view).collect() }))
}

#[utoipa::path(get, path = "/api/v1/job-types/{name}", tag = "jobs",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = JobTypeView), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<JobTypeView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(job_type_view(state.jobs.job_type(&namespace, &name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/job-types/{name}", tag = "jobs",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<StatusCode, ApiError> {
    let namespace = selector.resolve(None)?;
    state.jobs.delete_job_type(&namespace, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
