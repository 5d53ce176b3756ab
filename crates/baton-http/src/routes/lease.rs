//! `/api/v1/leases`: grant, keep alive, inspect and revoke.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use baton_api::error::ErrorBody;
use baton_api::lease::{CreateLeaseRequest, LeaseResponse};
use baton_core::lease::Lease;
use baton_core::{ErrorCode, Namespace};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/leases", post(grant))
        .route("/leases/{id}", get(show).delete(revoke))
        .route("/leases/{id}/keepalive", post(keepalive))
}

fn response(namespace: &Namespace, lease: Lease) -> LeaseResponse {
    LeaseResponse {
        lease_id: lease.lease_id.to_string(),
        namespace: namespace.to_string(),
        ttl_seconds: lease.ttl_ms / 1000,
        granted_at: lease.granted_at.to_rfc3339(),
        expires_at: lease.expires_at.to_rfc3339(),
    }
}

/// Grant a lease; bind locks to it with `lease_id`.
#[utoipa::path(post, path = "/api/v1/leases", tag = "leases", request_body = CreateLeaseRequest,
    responses((status = 201, body = LeaseResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn grant(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<CreateLeaseRequest>,
) -> Result<(StatusCode, axum::Json<LeaseResponse>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let ttl = u64::try_from(body.ttl_seconds)
        .map(Duration::from_secs)
        .map_err(|_| ApiError::new(ErrorCode::TtlOutOfRange, "ttl_seconds must not be negative"))?;
    let lease = state.leases.grant(&namespace, ttl).await?;
    Ok((StatusCode::CREATED, axum::Json(response(&namespace, lease))))
}

/// Extend a live lease by its TTL.
#[utoipa::path(post, path = "/api/v1/leases/{id}/keepalive", tag = "leases", params(("id" = String, Path)),
    responses((status = 200, body = LeaseResponse), (status = 404, body = ErrorBody, description = "LEASE_NOT_FOUND")))]
pub(crate) async fn keepalive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<LeaseResponse>, ApiError> {
    let namespace = selector.resolve(None)?;
    let lease = state.leases.keepalive(&namespace, &id).await?;
    Ok(axum::Json(response(&namespace, lease)))
}

#[utoipa::path(get, path = "/api/v1/leases/{id}", tag = "leases", params(("id" = String, Path)),
    responses((status = 200, body = LeaseResponse), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<LeaseResponse>, ApiError> {
    let namespace = selector.resolve(None)?;
    let lease = state.leases.get(&namespace, &id).await?;
    Ok(axum::Json(response(&namespace, lease)))
}

/// Revoke a lease: every lock bound to it is released at once.
#[utoipa::path(delete, path = "/api/v1/leases/{id}", tag = "leases", params(("id" = String, Path)),
    responses((status = 200, description = "Revoked"), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<Value>, ApiError> {
    let namespace = selector.resolve(None)?;
    state.leases.revoke(&namespace, &id).await?;
    Ok(axum::Json(json!({"success": true, "lease_id": id})))
}
