//! Live subscriptions to a stream or to the namespace's whole log (`$all`), over Server-Sent Events
//! (`/api/v1/events/{stream}/subscribe`) and WebSocket (`/api/v1/events/{stream}/ws`).
//!
//! Both carry the same subscription from `EventService::subscribe`: history from the requested position, then
//! `caught_up` once, then live events. An SSE event's id is its position (`$all`) or version (a stream), so a
//! client that reconnects with `Last-Event-ID` resumes right after the last event it got.

use std::convert::Infallible;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use baton_api::error::ErrorBody;
use baton_api::event::SubscriptionMessage;
use baton_core::event::{ALL_STREAM, SubscribeRequest, SubscriptionItem, SubscriptionTarget};
use baton_core::{Error, ErrorCode};
use futures::{SinkExt as _, Stream, StreamExt as _};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, NamespaceSelector};
use crate::routes::event_view::event_view;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events/{stream}/subscribe", get(subscribe_sse))
        .route("/api/v1/events/{stream}/ws", get(subscribe_ws))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscribeQuery {
    /// A stream: the first version to deliver. Without it (and without `Last-Event-ID`), only new events.
    from_version: Option<i64>,
    /// `$all`: the first position to deliver. Without it (and without `Last-Event-ID`), only new events.
    from_position: Option<i64>,
    /// `$all`: only events of this type.
    event_type: Option<String>,
    /// `$all`: only streams whose name starts with this.
    stream_prefix: Option<String>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// The subscription a request asks for. `Last-Event-ID` (an SSE reconnect) wins over the query's start.
fn subscribe_request(
    state: &AppState,
    stream: String,
    selector: NamespaceSelector,
    headers: &HeaderMap,
    query: SubscribeQuery,
) -> Result<SubscribeRequest, ApiError> {
    let namespace = selector.resolve(None)?;
    let resume_after = match headers.get("last-event-id").map(|value| value.to_str().map(str::parse::<i64>)) {
        None => None,
        Some(Ok(Ok(id))) => Some(id),
        Some(_) => return Err(ApiError::new(ErrorCode::InvalidArgument, "Last-Event-ID must be a number")),
    };
    let (target, from) = if stream == ALL_STREAM {
        if query.from_version.is_some() {
            return Err(ApiError::new(ErrorCode::InvalidArgument, "$all takes from_position, not from_version"));
        }
        (
            SubscriptionTarget::All(state.events.check_filter(query.event_type, query.stream_prefix)?),
            query.from_position,
        )
    } else {
        if query.from_position.is_some() || query.event_type.is_some() || query.stream_prefix.is_some() {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "from_position, event_type and stream_prefix apply to $all only",
            ));
        }
        (SubscriptionTarget::Stream(stream), query.from_version)
    };
    let from = resume_after.map(|id| id.saturating_add(1)).or(from);
    Ok(SubscribeRequest { namespace, target, from })
}

/// What a delivered event is numbered by: its position in `$all`, its version in a stream.
fn sequence_of(target: &SubscriptionTarget) -> fn(&baton_core::event::RecordedEvent) -> i64 {
    match target {
        SubscriptionTarget::All(_) => |event| event.global_position,
        SubscriptionTarget::Stream(_) => |event| event.version,
    }
}

fn message(item: Result<SubscriptionItem, Error>) -> SubscriptionMessage {
    match item {
        Ok(SubscriptionItem::Event(event)) => {
            SubscriptionMessage { kind: SubscriptionMessage::EVENT.into(), event: Some(event_view(event)), error: None }
        }
        Ok(SubscriptionItem::CaughtUp) => {
            SubscriptionMessage { kind: SubscriptionMessage::CAUGHT_UP.into(), event: None, error: None }
        }
        Err(error) => SubscriptionMessage {
            kind: SubscriptionMessage::ERROR.into(),
            event: None,
            error: Some(ApiError::from(error).into_detail()),
        },
    }
}

/// Subscribes over Server-Sent Events: each event as `data` (JSON) with its position or version as `id`, a
/// `caught_up` event once history is delivered, and an `error` event before the server ends the stream.
#[utoipa::path(get, path = "/api/v1/events/{stream}/subscribe", tag = "events",
    params(("stream" = String, Path, description = "A stream, or $all"), SubscribeQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume right after this position or version")),
    responses((status = 200, content_type = "text/event-stream", description = "The subscription"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "TOO_MANY_SUBSCRIPTIONS")))]
pub(crate) async fn subscribe_sse(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SubscribeQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let request = subscribe_request(&state, stream, selector, &headers, query)?;
    let sequence = sequence_of(&request.target);
    let subscription = state.events.subscribe(request).await?;
    let events = subscription.take_until(state.shutdown.clone().cancelled_owned()).map(move |item| {
        let id = item.as_ref().ok().and_then(|item| match item {
            SubscriptionItem::Event(event) => Some(sequence(event)),
            SubscriptionItem::CaughtUp => None,
        });
        let message = message(item);
        let event = match (&message.event, &message.error) {
            (Some(view), _) => Event::default().json_data(view),
            (None, Some(error)) => Event::default().event(SubscriptionMessage::ERROR).json_data(error),
            (None, None) => Ok(Event::default().event(SubscriptionMessage::CAUGHT_UP).data("{}")),
        };
        let event = event.unwrap_or_else(|_| Event::default().event(SubscriptionMessage::ERROR).data("{}"));
        Ok(match id {
            Some(id) => event.id(id.to_string()),
            None => event,
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Subscribes over WebSocket: one JSON text message per event (`{"type": "event", "event": {...}}`), then
/// `{"type": "caught_up"}` once, and `{"type": "error", ...}` before the server closes.
#[utoipa::path(get, path = "/api/v1/events/{stream}/ws", tag = "events",
    params(("stream" = String, Path, description = "A stream, or $all"), SubscribeQuery),
    responses((status = 101, description = "Switching to WebSocket"), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "TOO_MANY_SUBSCRIPTIONS")))]
pub(crate) async fn subscribe_ws(
    State(state): State<AppState>,
    ApiPath(stream): ApiPath<String>,
    selector: NamespaceSelector,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<SubscribeQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let request = subscribe_request(&state, stream, selector, &headers, query)?;
    // Subscribed before the upgrade, so a refusal is still an HTTP answer with the error envelope.
    let subscription = state.events.subscribe(request).await?;
    let shutdown = state.shutdown.clone();
    // The client only reads (what it sends is dropped), so a message from it has no use for the library's 64 MiB.
    let upgrade = upgrade.max_message_size(MAX_CLIENT_MESSAGE_BYTES).max_frame_size(MAX_CLIENT_MESSAGE_BYTES);
    Ok(upgrade.on_upgrade(move |socket| pump(socket, subscription, shutdown)).into_response())
}

/// The largest message a WebSocket subscriber may send; a larger one ends its subscription.
const MAX_CLIENT_MESSAGE_BYTES: usize = 4096;

/// Sends the subscription down the socket until the client leaves, the subscription fails, or the server
/// shuts down. A client that stops reading is not buffered for: the send waits, and so does the subscription.
async fn pump(
    socket: WebSocket,
    subscription: impl Stream<Item = Result<SubscriptionItem, Error>>,
    shutdown: CancellationToken,
) {
    let (mut outgoing, mut incoming) = socket.split();
    tokio::pin!(subscription);
    loop {
        tokio::select! {
            item = subscription.next() => {
                let Some(item) = item else { break };
                let failed = item.is_err();
                let Ok(text) = serde_json::to_string(&message(item)) else { break };
                if outgoing.send(Message::Text(text.into())).await.is_err() || failed {
                    break;
                }
            }
            frame = incoming.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            () = shutdown.cancelled() => break,
        }
    }
    let _ = outgoing.send(Message::Close(None)).await;
}
