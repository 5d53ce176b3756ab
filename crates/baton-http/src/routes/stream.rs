//! `/api/v1/streams`: list streams, inspect one, set its truncation rules and metadata, and delete it.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use baton_api::error::ErrorBody;
use baton_api::event::{StreamInfo, StreamList, StreamSettingsRequest};
use baton_core::event::StreamSettingsRequest as StreamSettingsCommand;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};
use crate::routes::event_view::stream_info;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/streams", get(list))
        .route("/api/v1/streams/{stream}", get(show).delete(remove))
        .route("/api/v1/streams/{stream}/metadata", put(set_settings))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    prefix: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// Streams that exist, by name.
#[utoipa::path(get, path = "/api/v1/streams", tag = "events", params(ListQuery),
    responses((status = 200, body = StreamList), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<axum::Json<StreamList>, ApiError> {
    let namespace = selector.resolve(None)?;
    let page = state.events.list_streams(namespace, query.prefix, query.cursor, query.limit).await?;
    Ok(axum::Json(StreamList {
        streams: page.items.into_iter().map(|stream| stream_info(stream, None)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A stream's version, readable event count, times, settings and metadata (`$all`: the log's head).
#[utoipa::path(get, path = "/api/v1/streams/{stream}", tag = "events", params(("stream" = String, Path)),
    responses((status = 200, body = StreamInfo), (status = 404, body = ErrorBody, description = "STREAM_NOT_FOUND")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<StreamInfo>, ApiError> {
    let namespace = selector.resolve(None)?;
    let (record, count) = state.events.stream_info(&namespace, &stream).await?;
    Ok(axum::Json(stream_info(record, Some(count))))
}

/// Replaces the stream's settings: `max_count` and `max_age_seconds` truncation, and free-form metadata. The
/// stream need not have events yet.
#[utoipa::path(put, path = "/api/v1/streams/{stream}/metadata", tag = "events", params(("stream" = String, Path)),
    request_body = StreamSettingsRequest,
    responses((status = 200, body = StreamInfo), (status = 422, body = ErrorBody)))]
pub(crate) async fn set_settings(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<StreamSettingsRequest>,
) -> Result<axum::Json<StreamInfo>, ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let command = StreamSettingsCommand {
        max_count: body.max_count,
        max_age_seconds: body.max_age_seconds,
        metadata: body.metadata,
    };
    let record = state.events.set_stream_settings(&namespace, &stream, command).await?;
    Ok(axum::Json(stream_info(record, None)))
}

/// Soft-deletes the stream: its events stop being readable, and a later append revives it with versions
/// carrying on from the last one.
#[utoipa::path(delete, path = "/api/v1/streams/{stream}", tag = "events", params(("stream" = String, Path)),
    responses((status = 200, body = StreamInfo), (status = 404, body = ErrorBody, description = "STREAM_NOT_FOUND")))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<StreamInfo>, ApiError> {
    let namespace = selector.resolve(None)?;
    let record = state.events.delete_stream(&namespace, &stream).await?;
    Ok(axum::Json(stream_info(record, None)))
}
