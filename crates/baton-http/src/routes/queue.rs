//! `/api/v1/queues` and `/api/v1/stats`: per-queue counts and settings (pause, concurrency, rate limits).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use baton_api::error::ErrorBody;
use baton_api::job::{JobStats, QueueList, QueueSettingsRequest, QueueView, RateLimitBody};
use baton_core::job::service::QueueSettingsRequest as CoreSettings;
use baton_core::job::{QueueInfo, QueueSettings};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/queues", get(list))
        .route("/api/v1/queues/{queue}", put(update))
        .route("/api/v1/stats", get(stats))
}

fn rate_limit_body(settings: &QueueSettings) -> Option<RateLimitBody> {
    settings.rate_limit.map(|rate| RateLimitBody { limit: rate.limit, period_seconds: (rate.period_ms / 1000) as u64 })
}

fn queue_view(info: QueueInfo) -> QueueView {
    QueueView {
        rate_limit: rate_limit_body(&info.settings),
        queue: info.queue,
        paused: info.settings.paused,
        global_concurrency: info.settings.global_concurrency,
        per_key_concurrency: info.settings.per_key_concurrency,
        counts: info.counts,
        completed_last_minute: info.completed_last_minute,
    }
}

/// Every queue with jobs or settings: counts per state, recent throughput and settings.
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues",
    params(("namespace" = Option<String>, Query)), responses((status = 200, body = QueueList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
) -> Result<axum::Json<QueueList>, ApiError> {
    let namespace = selector.resolve(None)?;
    let queues = state.jobs.queues(&namespace).await?;
    Ok(axum::Json(QueueList { queues: queues.into_iter().map(queue_view).collect() }))
}

/// Change a queue's settings; absent fields keep their value. The limits hold across every node.
#[utoipa::path(put, path = "/api/v1/queues/{queue}", tag = "queues", request_body = QueueSettingsRequest,
    params(("queue" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = QueueView), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    ApiPath(queue): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<QueueSettingsRequest>,
) -> Result<axum::Json<QueueView>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let request = CoreSettings {
        paused: body.paused,
        global_concurrency: body.global_concurrency.map(|limit| (limit > 0).then_some(limit)),
        rate_limit: body.rate_limit.map(|rate| (rate.limit > 0).then_some((rate.limit, rate.period_seconds))),
        per_key_concurrency: body.per_key_concurrency,
    };
    state.jobs.update_queue(&namespace, &queue, request).await?;
    let info = state.jobs.queues(&namespace).await?.into_iter().find(|info| info.queue == queue);
    let info = info.unwrap_or(QueueInfo {
        queue: queue.clone(),
        settings: QueueSettings::new(),
        counts: Default::default(),
        completed_last_minute: 0,
    });
    Ok(axum::Json(queue_view(info)))
}

/// Totals across queues.
#[utoipa::path(get, path = "/api/v1/stats", tag = "queues",
    params(("namespace" = Option<String>, Query)), responses((status = 200, body = JobStats)))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    selector: NamespaceSelector,
) -> Result<axum::Json<JobStats>, ApiError> {
    let namespace = selector.resolve(None)?;
    let queues = state.jobs.queues(&namespace).await?;
    let mut stats = JobStats { queues: queues.len() as u64, ..JobStats::default() };
    for queue in queues {
        for (job_state, count) in queue.counts {
            *stats.counts.entry(job_state).or_default() += count;
        }
        stats.completed_last_minute += queue.completed_last_minute;
    }
    Ok(axum::Json(stats))
}
