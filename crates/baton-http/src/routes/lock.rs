//! `/api/v1/locks`: acquire (optionally waiting), renew, release, status and list.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use baton_api::error::ErrorBody;
use baton_api::lock::{
    AcquireLockRequest, LockGrant, LockList, LockStatusResponse, ReleaseLockRequest, ReleaseLockResponse,
    RenewLockRequest,
};
use baton_core::lease::service::parse_lease_id;
use baton_core::lock::Holder;
use baton_core::lock::service::{AcquireRequest, ListLocksRequest};
use baton_core::{ErrorCode, Namespace};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/locks", post(acquire).get(list).delete(release_without_key))
        .route("/api/v1/locks/{key}", axum::routing::delete(release))
        .route("/api/v1/locks/{key}/renew", post(renew))
        .route("/api/v1/locks/{key}/extend", put(renew))
        .route("/api/v1/locks/{key}/status", get(status))
}

pub(crate) fn grant(namespace: &Namespace, holder: Holder) -> LockGrant {
    LockGrant {
        success: true,
        lock_id: holder.lock_id.to_string(),
        namespace: namespace.to_string(),
        key: holder.key,
        owner: holder.owner,
        fencing_token: holder.fencing_token.0,
        permits: holder.permits,
        ttl_seconds: holder.ttl_ms / 1000,
        acquired_at: holder.acquired_at.to_rfc3339(),
        expires_at: holder.expires_at.to_rfc3339(),
        lease_id: holder.lease_id.map(|id| id.to_string()),
        metadata: holder.metadata,
    }
}

/// A duration from the wire, refused when negative (a zero or too-long TTL is the service's call).
fn non_negative(value: i64, field: &str) -> Result<u64, ApiError> {
    let code = if field == "ttl_seconds" { ErrorCode::TtlOutOfRange } else { ErrorCode::InvalidArgument };
    u64::try_from(value).map_err(|_| ApiError::new(code, format!("{field} must not be negative")))
}

fn seconds(value: i64, field: &str) -> Result<Duration, ApiError> {
    non_negative(value, field).map(Duration::from_secs)
}

/// Acquire a lock, or wait for it in FIFO order when `wait_timeout_seconds` is set.
#[utoipa::path(post, path = "/api/v1/locks", tag = "locks", request_body = AcquireLockRequest,
    params(("namespace" = Option<String>, Query, description = "Namespace (or X-Baton-Namespace header)")),
    responses(
        (status = 201, body = LockGrant, description = "Granted"),
        (status = 409, body = ErrorBody, description = "LOCK_HELD (with the holder), LOCK_WAIT_TIMEOUT or PERMITS_MISMATCH"),
                (status = 422, body = ErrorBody, description = "Invalid input"),
    ))]
pub(crate) async fn acquire(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<AcquireLockRequest>,
) -> Result<(StatusCode, axum::Json<LockGrant>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let wait = match (body.wait_timeout_ms, body.wait_timeout_seconds) {
        (Some(ms), _) => Some(Duration::from_millis(non_negative(ms, "wait_timeout_ms")?)),
        (None, Some(secs)) => Some(seconds(secs, "wait_timeout_seconds")?),
        (None, None) => None,
    };
    let request = AcquireRequest {
        namespace: namespace.clone(),
        key: body.key,
        owner: body.owner,
        ttl: seconds(body.ttl_seconds, "ttl_seconds")?,
        wait,
        permits: body.permits,
        lease_id: body.lease_id.as_deref().map(parse_lease_id).transpose()?,
        metadata: body.metadata,
    };
    let holder = state.locks.acquire(request).await?;
    Ok((StatusCode::CREATED, axum::Json(grant(&namespace, holder))))
}

/// Release a lock you hold. Anything else is refused and changes nothing.
#[utoipa::path(delete, path = "/api/v1/locks/{key}", tag = "locks", request_body = ReleaseLockRequest,
    params(("key" = String, Path), ("namespace" = Option<String>, Query)),
    responses(
        (status = 200, body = ReleaseLockResponse),
        (status = 409, body = ErrorBody, description = "LOCK_NOT_HELD or LOCK_OWNER_MISMATCH"),
    ))]
pub(crate) async fn release(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<ReleaseLockRequest>,
) -> Result<axum::Json<ReleaseLockResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    state.locks.release(namespace, key.clone(), &body.lock_id, body.owner).await?;
    Ok(axum::Json(ReleaseLockResponse { success: true, key, lock_id: body.lock_id }))
}

/// `DELETE /locks` without a key names nothing to release.
async fn release_without_key() -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, "name the lock to release: DELETE /api/v1/locks/{key}")
}

/// Renew (extend) a lock you hold. Also served as `PUT /api/v1/locks/{key}/extend`.
#[utoipa::path(post, path = "/api/v1/locks/{key}/renew", tag = "locks", request_body = RenewLockRequest,
    params(("key" = String, Path), ("namespace" = Option<String>, Query)),
    responses(
        (status = 200, body = LockGrant),
        (status = 409, body = ErrorBody, description = "LOCK_NOT_HELD, LOCK_OWNER_MISMATCH or LOCK_LEASE_BOUND"),
    ))]
pub(crate) async fn renew(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<RenewLockRequest>,
) -> Result<axum::Json<LockGrant>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let ttl = body.ttl_seconds.map(|s| seconds(s, "ttl_seconds")).transpose()?;
    let holder = state.locks.renew(namespace.clone(), key, &body.lock_id, body.owner, ttl).await?;
    Ok(axum::Json(grant(&namespace, holder)))
}

/// Who holds a lock, until when, and how many wait.
#[utoipa::path(get, path = "/api/v1/locks/{key}/status", tag = "locks",
    params(("key" = String, Path), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = LockStatusResponse)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<LockStatusResponse>, ApiError> {
    let namespace = selector.resolve(None)?;
    let status = state.locks.status(&namespace, &key).await?;
    let holders: Vec<LockGrant> = status.holders.into_iter().map(|h| grant(&namespace, h)).collect();
    let first = holders.first();
    Ok(axum::Json(LockStatusResponse {
        namespace: namespace.to_string(),
        key: status.key,
        is_locked: !holders.is_empty(),
        owner: first.map(|h| h.owner.clone()),
        lock_id: first.map(|h| h.lock_id.clone()),
        fencing_token: holders.iter().map(|h| h.fencing_token).max(),
        expires_at: first.map(|h| h.expires_at.clone()),
        metadata: first.and_then(|h| h.metadata.clone()),
        waiters: status.waiters,
        holders,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    owner: Option<String>,
    prefix: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    namespace: Option<String>,
}

/// Live locks, by key, filtered by owner and key prefix, a page at a time.
#[utoipa::path(get, path = "/api/v1/locks", tag = "locks", params(ListQuery),
    responses((status = 200, body = LockList)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<axum::Json<LockList>, ApiError> {
    let namespace = selector.resolve(query.namespace.as_deref())?;
    let page = state
        .locks
        .list(ListLocksRequest {
            namespace: namespace.clone(),
            owner: query.owner,
            prefix: query.prefix,
            cursor: query.cursor,
            limit: query.limit,
        })
        .await?;
    Ok(axum::Json(LockList {
        items: page.items.into_iter().map(|h| grant(&namespace, h)).collect(),
        next_cursor: page.next_cursor,
    }))
}
