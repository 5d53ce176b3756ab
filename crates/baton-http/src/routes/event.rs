//! `/api/v1/events`: append to a stream, read a stream, and read the namespace's whole log (`$all`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use baton_api::error::ErrorBody;
use baton_api::event::{AppendRequest, AppendResponse, EventBody, LogEvents, StreamEvents};
use baton_core::ErrorCode;
use baton_core::event::service::{AppendRequest as AppendCommand, EventInput, parse_expected_version};
use baton_core::event::{ALL_STREAM, Direction, ReadAllRequest, ReadStreamRequest};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};
use crate::routes::event_view::{append_response, event_view};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(read_all)).route("/api/v1/events/{stream}", get(read_stream).post(append))
}

/// Appends one event, or a batch (`events`), atomically at the end of the stream.
#[utoipa::path(post, path = "/api/v1/events/{stream}", tag = "events", params(("stream" = String, Path)),
    request_body = AppendRequest,
    responses((status = 201, body = AppendResponse), (status = 200, body = AppendResponse, description = "Replayed: the events were already there"),
        (status = 409, body = ErrorBody, description = "WRONG_EXPECTED_VERSION or DUPLICATE_EVENT"),
        (status = 422, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(crate) async fn append(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<AppendRequest>,
) -> Result<(StatusCode, axum::Json<AppendResponse>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let expected = parse_expected_version(body.expected_version.as_ref().unwrap_or(&Value::Null))?;
    let events = match (body.events, body.event_type, body.data) {
        (Some(events), None, None) if body.metadata.is_none() && body.event_id.is_none() => {
            events.into_iter().map(event_input).collect()
        }
        (None, Some(event_type), Some(data)) => {
            vec![EventInput { event_id: body.event_id, event_type, data, metadata: body.metadata }]
        }
        (None, _, _) => {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                "an append takes either event_type and data (one event) or events (a batch)",
            ));
        }
        (Some(_), _, _) => {
            return Err(ApiError::new(ErrorCode::InvalidBody, "a batch takes its events in events, and nothing else"));
        }
    };
    let outcome = state.events.append(AppendCommand { namespace, stream, expected, events }).await?;
    let status = if outcome.replayed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, axum::Json(append_response(outcome))))
}

fn event_input(event: EventBody) -> EventInput {
    EventInput { event_id: event.event_id, event_type: event.event_type, data: event.data, metadata: event.metadata }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadStreamQuery {
    /// The first version to return; the start (forward) or the end (backward) by default.
    from_version: Option<i64>,
    /// 1 to 1000; 100 by default.
    limit: Option<u32>,
    /// `forward` (the default) or `backward`.
    direction: Option<String>,
    /// With `$all`: the first position to return.
    from_position: Option<i64>,
    /// With `$all`: only events of this type.
    event_type: Option<String>,
    /// With `$all`: only streams whose name starts with this.
    stream_prefix: Option<String>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

pub(crate) fn direction(raw: Option<&str>) -> Result<Direction, ApiError> {
    match raw {
        None | Some("forward") => Ok(Direction::Forward),
        Some("backward") => Ok(Direction::Backward),
        Some(other) => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!("direction must be forward or backward, not '{other}'"),
        )),
    }
}

/// Where the page after `last` starts in `direction`, when the page was full (else there is none).
fn next(last: Option<i64>, full: bool, direction: Direction, first: i64) -> Option<i64> {
    let last = last.filter(|_| full)?;
    match direction {
        Direction::Forward => Some(last + 1),
        Direction::Backward => (last > first).then_some(last - 1),
    }
}

/// One page of a stream's events (`$all`: of the namespace's log).
#[utoipa::path(get, path = "/api/v1/events/{stream}", tag = "events", params(("stream" = String, Path), ReadStreamQuery),
    responses((status = 200, body = StreamEvents), (status = 404, body = ErrorBody, description = "STREAM_NOT_FOUND"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn read_stream(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ReadStreamQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let namespace = selector.resolve(None)?;
    if stream == ALL_STREAM {
        if query.from_version.is_some() {
            return Err(ApiError::new(ErrorCode::InvalidArgument, "$all takes from_position, not from_version"));
        }
        let query = ReadAllQuery {
            from_position: query.from_position,
            limit: query.limit,
            direction: query.direction,
            event_type: query.event_type,
            stream_prefix: query.stream_prefix,
            namespace: None,
        };
        return Ok(read_log(&state, namespace, query).await?.into_response());
    }
    if query.from_position.is_some() || query.event_type.is_some() || query.stream_prefix.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "from_position, event_type and stream_prefix apply to $all only",
        ));
    }
    let direction = direction(query.direction.as_deref())?;
    let request =
        ReadStreamRequest { namespace, stream, from_version: query.from_version, direction, limit: query.limit };
    let limit = baton_core::page::page_size(query.limit)?;
    let slice = state.events.read_stream(request).await?;
    let full = slice.events.len() == limit as usize;
    let next_version = next(slice.events.last().map(|event| event.version), full, direction, 0);
    let body = StreamEvents {
        stream: slice.stream.stream,
        version: slice.stream.last_version,
        events: slice.events.into_iter().map(event_view).collect(),
        next_version,
    };
    Ok(axum::Json(body).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadAllQuery {
    /// The first position to return; the start (forward) or the head (backward) by default.
    from_position: Option<i64>,
    /// 1 to 1000; 100 by default.
    limit: Option<u32>,
    /// `forward` (the default) or `backward`.
    direction: Option<String>,
    event_type: Option<String>,
    stream_prefix: Option<String>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// One page of the namespace's whole log, in position order.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(ReadAllQuery),
    responses((status = 200, body = LogEvents), (status = 422, body = ErrorBody, description = "POSITION_OUT_OF_RANGE and bad input")))]
pub(crate) async fn read_all(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ReadAllQuery>,
) -> Result<axum::Json<LogEvents>, ApiError> {
    let namespace = selector.resolve(None)?;
    read_log(&state, namespace, query).await
}

async fn read_log(
    state: &AppState,
    namespace: baton_core::Namespace,
    query: ReadAllQuery,
) -> Result<axum::Json<LogEvents>, ApiError> {
    let direction = direction(query.direction.as_deref())?;
    let limit = baton_core::page::page_size(query.limit)?;
    let request = ReadAllRequest {
        namespace,
        from_position: query.from_position,
        direction,
        limit: query.limit,
        event_type: query.event_type,
        stream_prefix: query.stream_prefix,
    };
    let slice = state.events.read_all(request).await?;
    let full = slice.events.len() == limit as usize;
    let next_position = next(slice.events.last().map(|event| event.global_position), full, direction, 1);
    Ok(axum::Json(LogEvents {
        events: slice.events.into_iter().map(event_view).collect(),
        head_position: slice.head,
        next_position,
    }))
}
