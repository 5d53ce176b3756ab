//! `/api/v1/schedules`: cron schedules that enqueue a job at every tick, once per tick across the cluster.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use baton_api::error::ErrorBody;
use baton_api::job::{JobView, ScheduleList, ScheduleRequest, ScheduleView};
use baton_core::ErrorCode;
use baton_core::clock::Timestamp;
use baton_core::job::schedule::{Overlap, Schedule};
use baton_core::job::schedule_service::ScheduleRequest as CoreRequest;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, NamespaceSelector};
use crate::routes::job_view::{job_spec, job_view};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules", post(save).get(list))
        .route("/api/v1/schedules/{name}", get(show).delete(remove))
        .route("/api/v1/schedules/{name}/pause", post(pause))
        .route("/api/v1/schedules/{name}/resume", post(resume))
        .route("/api/v1/schedules/{name}/trigger", post(trigger))
}

fn schedule_view(schedule: Schedule) -> ScheduleView {
    let rfc3339 = |at: Option<Timestamp>| at.map(Timestamp::to_rfc3339);
    ScheduleView {
        name: schedule.name,
        namespace: schedule.namespace.to_string(),
        cron: schedule.cron,
        timezone: schedule.timezone,
        queue: schedule.queue,
        job: serde_json::to_value(&schedule.template).unwrap_or_default(),
        overlap: schedule.overlap.as_str().to_owned(),
        paused: schedule.paused,
        next_fire_at: rfc3339(schedule.next_fire_at),
        last_fired_at: rfc3339(schedule.last_fired_at),
        last_job_id: schedule.last_job_id.map(|id| id.to_string()),
        created_at: schedule.created_at.to_rfc3339(),
    }
}

/// Create or replace a schedule. A cron with seconds has six fields, seconds first.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleRequest,
    params(("namespace" = Option<String>, Query)),
    responses(
        (status = 201, body = ScheduleView, description = "Created"),
        (status = 200, body = ScheduleView, description = "Replaced"),
        (status = 422, body = ErrorBody, description = "Invalid cron, time zone or job"),
    ))]
pub(crate) async fn save(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<ScheduleRequest>,
) -> Result<(StatusCode, Json<ScheduleView>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let overlap = match body.overlap.as_deref() {
        None => Overlap::Allow,
        Some(raw) => Overlap::parse(raw).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidArgument, format!("unknown overlap '{raw}': allow or skip"))
        })?,
    };
    if body.job.namespace.is_some() || body.job.wait_ms.is_some() {
        return Err(ApiError::new(ErrorCode::InvalidArgument, "a schedule's job takes no namespace or wait_ms"));
    }
    let request = CoreRequest {
        name: body.name,
        cron: body.cron,
        timezone: body.timezone,
        job: job_spec(&body.queue, body.job, None)?,
        queue: body.queue,
        overlap,
        paused: body.paused,
    };
    let (schedule, created) = state.jobs.save_schedule(namespace, request).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(schedule_view(schedule))))
}

/// Every schedule, with its next fire time.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules",
    params(("namespace" = Option<String>, Query)), responses((status = 200, body = ScheduleList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
) -> Result<Json<ScheduleList>, ApiError> {
    let namespace = selector.resolve(None)?;
    let schedules = state.jobs.schedules(&namespace).await?;
    Ok(Json(ScheduleList { schedules: schedules.into_iter().map(schedule_view).collect() }))
}

#[utoipa::path(get, path = "/api/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<ScheduleView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(schedule_view(state.jobs.schedule(&namespace, &name).await?)))
}

#[utoipa::path(delete, path = "/api/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<StatusCode, ApiError> {
    let namespace = selector.resolve(None)?;
    state.jobs.delete_schedule(&namespace, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop firing until resumed.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/pause", tag = "schedules",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody)))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<ScheduleView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(schedule_view(state.jobs.pause_schedule(&namespace, &name, true).await?)))
}

/// Fire again from the next tick after now; ticks missed while paused are not fired.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/resume", tag = "schedules",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = ScheduleView), (status = 404, body = ErrorBody)))]
pub(crate) async fn resume(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Json<ScheduleView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(Json(schedule_view(state.jobs.pause_schedule(&namespace, &name, false).await?)))
}

/// Enqueue the schedule's job now, outside its ticks.
#[utoipa::path(post, path = "/api/v1/schedules/{name}/trigger", tag = "schedules",
    params(("name" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 201, body = JobView), (status = 404, body = ErrorBody)))]
pub(crate) async fn trigger(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let namespace = selector.resolve(None)?;
    let job = state.jobs.trigger_schedule(&namespace, &name).await?;
    Ok((StatusCode::CREATED, Json(job_view(job, false))))
}
