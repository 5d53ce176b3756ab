//! `/api/v1/leases`: grant, keep alive (one request at a time, or a stream of them over one WebSocket),
//! inspect and revoke.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use baton_api::error::ErrorBody;
use baton_api::lease::{CreateLeaseRequest, KeepaliveStreamAnswer, KeepaliveStreamRequest, LeaseResponse};
use baton_core::lease::Lease;
use baton_core::{ErrorCode, Namespace};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/leases", post(grant))
        .route("/api/v1/leases/keepalive", get(keepalive_stream))
        .route("/api/v1/leases/{id}", get(show).delete(revoke))
        .route("/api/v1/leases/{id}/keepalive", post(keepalive))
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
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<LeaseResponse>, ApiError> {
    let namespace = selector.resolve(None)?;
    let lease = state.leases.keepalive(&namespace, &id).await?;
    Ok(axum::Json(response(&namespace, lease)))
}

/// The most one message on the keepalive stream may hold; a request is a lease id of a few dozen bytes.
const MAX_KEEPALIVE_MESSAGE_BYTES: usize = 4096;

/// Keep leases alive over one WebSocket, as etcd's `LeaseKeepAlive` stream does: send text messages
/// `{"lease_id": "..."}`; each is answered, in order, with `{"lease_id", "lease": {...}}` (the lease as extended)
/// or `{"lease_id", "error": {code, message, details}}`, and the stream stays open either way. The namespace is
/// the connection's (`X-Baton-Namespace` or `?namespace=`).
#[utoipa::path(get, path = "/api/v1/leases/keepalive", tag = "leases",
    responses((status = 101, description = "WebSocket: KeepaliveStreamRequest in, KeepaliveStreamAnswer out"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn keepalive_stream(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let namespace = selector.resolve(None)?;
    // A small read buffer too: the socket zeroes its whole buffer on every read (128 KiB by default).
    let upgrade = upgrade
        .max_message_size(MAX_KEEPALIVE_MESSAGE_BYTES)
        .max_frame_size(MAX_KEEPALIVE_MESSAGE_BYTES)
        .read_buffer_size(MAX_KEEPALIVE_MESSAGE_BYTES);
    Ok(upgrade.on_upgrade(move |socket| keep_alive_stream(socket, state, namespace)).into_response())
}

/// Answers the stream's requests one by one until the client leaves or the server shuts down.
async fn keep_alive_stream(mut socket: WebSocket, state: AppState, namespace: Namespace) {
    loop {
        let frame = tokio::select! {
            frame = socket.recv() => frame,
            () = state.shutdown.cancelled() => break,
        };
        let started = Instant::now();
        let answer = match frame {
            None | Some(Err(_) | Ok(Message::Close(_))) => return,
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<KeepaliveStreamRequest>(&text) {
                Ok(request) => keep_alive_one(&state, &namespace, request.lease_id).await,
                Err(error) => refused(
                    String::new(),
                    ApiError::new(ErrorCode::InvalidArgument, format!("not a keepalive request: {error}")),
                ),
            },
            Some(Ok(Message::Binary(_))) => {
                refused(String::new(), ApiError::new(ErrorCode::InvalidArgument, "send keepalive requests as text"))
            }
            // Pings are answered by the socket itself.
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        };
        let outcome = if answer.error.is_none() { "ok" } else { "refused" };
        metrics::counter!("baton_lease_stream_keepalives_total", "outcome" => outcome).increment(1);
        metrics::histogram!("baton_lease_stream_keepalive_seconds").record(started.elapsed().as_secs_f64());
        let Ok(text) = serde_json::to_string(&answer) else { break };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

async fn keep_alive_one(state: &AppState, namespace: &Namespace, lease_id: String) -> KeepaliveStreamAnswer {
    match state.leases.keepalive(namespace, &lease_id).await {
        Ok(lease) => KeepaliveStreamAnswer { lease: Some(response(namespace, lease)), error: None, lease_id },
        Err(error) => refused(lease_id, ApiError::from(error)),
    }
}

fn refused(lease_id: String, error: ApiError) -> KeepaliveStreamAnswer {
    KeepaliveStreamAnswer { lease_id, lease: None, error: Some(error.into_detail()) }
}

#[utoipa::path(get, path = "/api/v1/leases/{id}", tag = "leases", params(("id" = String, Path)),
    responses((status = 200, body = LeaseResponse), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
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
    ApiPath(id): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<Value>, ApiError> {
    let namespace = selector.resolve(None)?;
    state.leases.revoke(&namespace, &id).await?;
    Ok(axum::Json(json!({"success": true, "lease_id": id})))
}
