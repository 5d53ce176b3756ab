//! Liveness, readiness, metrics, and the answers for unknown routes.

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use baton_core::ErrorCode;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).route("/metrics", get(metrics))
}

/// Live: the process answers.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, description = "The server is live")))]
pub(crate) async fn health() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Ready: the store answers and its migrations ran.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, description = "Ready"), (status = 503, description = "The store is not reachable")))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let backend = state.health.ready().await?;
    Ok(axum::Json(json!({"status": "ready", "backend": backend})))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus metrics")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([("content-type", "text/plain; version=0.0.4")], state.metrics.render())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
}
