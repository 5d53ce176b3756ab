//! `/api/v1/cache`: get, set and delete values, bulk reads and writes, invalidation by tag, and stats. A miss
//! answers 404 `CACHE_MISS` (a plain answer, not logged as a failure), with a fill token when it took the fill
//! lease.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::{get, post};
use baton_api::cache::{
    BulkGetRequest, BulkGetResponse, BulkSetRequest, BulkSetResponse, CacheEntryView, CacheSetRequest,
    CacheSetResponse, CacheStatsView, InvalidateRequest, InvalidateResponse,
};
use baton_api::error::ErrorBody;
use baton_core::cache::{CacheEntry, CacheLookup, CacheWrite, FillRequest};
use baton_core::clock::Timestamp;
use baton_core::{Error, ErrorCode};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};

/// Names the cache API's own routes take from its key space: `/cache/{key}` never reaches a key named so.
const RESERVED_KEYS: [&str; 4] = ["stats", "invalidate", "bulk-get", "bulk-set"];

pub(crate) fn routes() -> Router<AppState> {
    // The other methods on those routes are a key's, so they get a clear refusal rather than a 405.
    Router::new()
        .route("/api/v1/cache/stats", get(stats).fallback(reserved_key))
        .route("/api/v1/cache/invalidate", post(invalidate).fallback(reserved_key))
        .route("/api/v1/cache/bulk-get", post(bulk_get).fallback(reserved_key))
        .route("/api/v1/cache/bulk-set", post(bulk_set).fallback(reserved_key))
        .route("/api/v1/cache/{key}", get(read).post(write).put(write).delete(remove))
}

fn reserved_key_error(key: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidArgument,
        format!("'{key}' cannot be a cache key: {} name the cache API's own routes", RESERVED_KEYS.join(", ")),
    )
}

async fn reserved_key(uri: Uri) -> ApiError {
    reserved_key_error(uri.path().rsplit('/').next().unwrap_or_default())
}

fn entry_view(entry: CacheEntry) -> CacheEntryView {
    CacheEntryView {
        key: entry.key,
        value: entry.value,
        tags: entry.tags,
        created_at: entry.created_at.to_rfc3339(),
        expires_at: entry.expires_at.map(Timestamp::to_rfc3339),
    }
}

fn ttl(seconds: Option<i64>) -> Result<Option<Duration>, ApiError> {
    seconds
        .map(|seconds| {
            u64::try_from(seconds)
                .map(Duration::from_secs)
                .map_err(|_| ApiError::new(ErrorCode::TtlOutOfRange, "ttl_seconds must not be negative"))
        })
        .transpose()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadQuery {
    /// On a miss, take the key's fill lease for this long: the answer carries a `fill_token` to set the value
    /// with, and concurrent readers that wait get that value instead of computing it too.
    fill_lease_seconds: Option<u64>,
    /// With `fill_lease_seconds`: while another caller holds the fill lease, wait up to this long for its value.
    wait_ms: Option<u64>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// Reads a value: 200 with the entry, or 404 `CACHE_MISS` (with `fill_token` when this caller is to fill it,
/// or `filling` when another caller is).
#[utoipa::path(get, path = "/api/v1/cache/{key}", tag = "cache", params(("key" = String, Path), ReadQuery),
    responses((status = 200, body = CacheEntryView), (status = 404, body = ErrorBody, description = "CACHE_MISS"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn read(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<axum::Json<CacheEntryView>, ApiError> {
    let namespace = selector.resolve(None)?;
    let fill = match (query.fill_lease_seconds, query.wait_ms) {
        (Some(lease), wait) => Some(FillRequest {
            lease: Duration::from_secs(lease),
            wait: wait.filter(|ms| *ms > 0).map(Duration::from_millis),
        }),
        (None, Some(_)) => {
            return Err(ApiError::new(ErrorCode::InvalidArgument, "wait_ms needs fill_lease_seconds"));
        }
        (None, None) => None,
    };
    match state.cache.get(&namespace, &key, fill).await? {
        CacheLookup::Hit(entry) => Ok(axum::Json(entry_view(entry))),
        CacheLookup::Miss { fill_token, filling } => Err(Error::CacheMiss { key, fill_token, filling }.into()),
    }
}

/// Stores a value with an optional TTL and tags (the Syros shape: `{value, ttl_seconds, tags}`).
#[utoipa::path(put, path = "/api/v1/cache/{key}", tag = "cache", params(("key" = String, Path)),
    request_body = CacheSetRequest,
    responses((status = 200, body = CacheSetResponse), (status = 422, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(crate) async fn write(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<CacheSetRequest>,
) -> Result<axum::Json<CacheSetResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let write = CacheWrite {
        key,
        value: body.value,
        ttl: ttl(body.ttl_seconds)?,
        tags: body.tags,
        fill_token: body.fill_token,
    };
    let stored = state.cache.set(&namespace, vec![write]).await?.pop();
    let stored = stored.ok_or_else(|| ApiError::new(ErrorCode::Internal, "the write stored nothing"))?;
    Ok(axum::Json(CacheSetResponse {
        success: true,
        key: stored.key,
        expires_at: stored.expires_at.map(Timestamp::to_rfc3339),
    }))
}

#[utoipa::path(delete, path = "/api/v1/cache/{key}", tag = "cache", params(("key" = String, Path)),
    responses((status = 200, description = "Deleted, or there was nothing to delete"), (status = 422, body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<Value>, ApiError> {
    let namespace = selector.resolve(None)?;
    let deleted = state.cache.delete(&namespace, &key).await?;
    Ok(axum::Json(json!({"success": true, "key": key, "deleted": deleted})))
}

/// Reads many keys at once.
#[utoipa::path(post, path = "/api/v1/cache/bulk-get", tag = "cache", request_body = BulkGetRequest,
    responses((status = 200, body = BulkGetResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn bulk_get(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<BulkGetRequest>,
) -> Result<axum::Json<BulkGetResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let found = state.cache.get_many(&namespace, &body.keys).await?;
    let mut missing = Vec::new();
    let mut entries = Vec::new();
    for (key, entry) in body.keys.into_iter().zip(found) {
        match entry {
            Some(entry) => entries.push(entry_view(entry)),
            None => missing.push(key),
        }
    }
    Ok(axum::Json(BulkGetResponse { entries, missing }))
}

/// Stores many values at once.
#[utoipa::path(post, path = "/api/v1/cache/bulk-set", tag = "cache", request_body = BulkSetRequest,
    responses((status = 200, body = BulkSetResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn bulk_set(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<BulkSetRequest>,
) -> Result<axum::Json<BulkSetResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let writes = body
        .entries
        .into_iter()
        .map(|entry| {
            if RESERVED_KEYS.contains(&entry.key.as_str()) {
                return Err(reserved_key_error(&entry.key));
            }
            Ok(CacheWrite {
                key: entry.key,
                value: entry.value,
                ttl: ttl(entry.ttl_seconds)?,
                tags: entry.tags,
                fill_token: None,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let stored = state.cache.set(&namespace, writes).await?.len();
    Ok(axum::Json(BulkSetResponse { success: true, stored }))
}

/// Invalidates every entry carrying one of the tags. Once answered, no read on any node returns them.
#[utoipa::path(post, path = "/api/v1/cache/invalidate", tag = "cache", request_body = InvalidateRequest,
    responses((status = 200, body = InvalidateResponse), (status = 422, body = ErrorBody)))]
pub(crate) async fn invalidate(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<InvalidateRequest>,
) -> Result<axum::Json<InvalidateResponse>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    state.cache.invalidate(&namespace, body.tags.clone()).await?;
    Ok(axum::Json(InvalidateResponse { success: true, tags: body.tags }))
}

#[utoipa::path(get, path = "/api/v1/cache/stats", tag = "cache", responses((status = 200, body = CacheStatsView)))]
pub(crate) async fn stats(State(state): State<AppState>) -> Result<axum::Json<CacheStatsView>, ApiError> {
    let stats = state.cache.stats().await?;
    Ok(axum::Json(CacheStatsView {
        hits: stats.hits,
        misses: stats.misses,
        evictions: stats.evictions,
        entries: stats.entries,
        bytes: stats.bytes,
    }))
}
