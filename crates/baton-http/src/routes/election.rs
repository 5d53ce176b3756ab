//! `/api/v1/elections/{name}`: campaign (waiting in line when asked), proclaim, renew, resign, read the
//! leader, and observe leadership over Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use baton_api::election::{CampaignRequest, ElectionView, LeaderRequest, LeadershipView, ProclaimRequest};
use baton_api::error::ErrorBody;
use baton_core::ErrorCode;
use baton_core::election::service::CampaignRequest as CampaignCommand;
use baton_core::election::{ElectionState, Leadership};
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, NamespaceSelector};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/elections/{name}", get(show))
        .route("/api/v1/elections/{name}/campaign", post(campaign))
        .route("/api/v1/elections/{name}/proclaim", post(proclaim))
        .route("/api/v1/elections/{name}/renew", post(renew))
        .route("/api/v1/elections/{name}/resign", post(resign))
        .route("/api/v1/elections/{name}/observe", get(observe))
}

fn leadership_view(leadership: Leadership) -> LeadershipView {
    LeadershipView {
        name: leadership.name,
        leadership_id: leadership.leadership_id.to_string(),
        candidate: leadership.candidate,
        value: leadership.value,
        term: leadership.term.0,
        fencing_token: leadership.term.0,
        since: leadership.since.to_rfc3339(),
        expires_at: leadership.expires_at.to_rfc3339(),
        ttl_seconds: leadership.ttl_ms / 1000,
    }
}

fn election_view(state: ElectionState) -> ElectionView {
    ElectionView {
        name: state.name,
        leader: state.leader.map(leadership_view),
        candidates_waiting: state.candidates_waiting,
    }
}

fn seconds(value: i64, field: &str) -> Result<Duration, ApiError> {
    let code = if field == "ttl_seconds" { ErrorCode::TtlOutOfRange } else { ErrorCode::InvalidArgument };
    u64::try_from(value)
        .map(Duration::from_secs)
        .map_err(|_| ApiError::new(code, format!("{field} must not be negative")))
}

/// Campaigns for leadership: 201 when won, 409 `LEADER_EXISTS` at once without a wait, or (with a wait) won in
/// FIFO order as leaders step down or lapse, else 409 `CAMPAIGN_TIMEOUT`.
#[utoipa::path(post, path = "/api/v1/elections/{name}/campaign", tag = "elections", params(("name" = String, Path)),
    request_body = CampaignRequest,
    responses((status = 201, body = LeadershipView), (status = 409, body = ErrorBody, description = "LEADER_EXISTS or CAMPAIGN_TIMEOUT"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn campaign(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<CampaignRequest>,
) -> Result<(StatusCode, axum::Json<LeadershipView>), ApiError> {
    let wait = match (body.wait_timeout_ms, body.wait_timeout_seconds) {
        (Some(ms), _) => Some(
            u64::try_from(ms)
                .map(Duration::from_millis)
                .map_err(|_| ApiError::new(ErrorCode::InvalidArgument, "wait_timeout_ms must not be negative"))?,
        ),
        (None, Some(secs)) => Some(seconds(secs, "wait_timeout_seconds")?),
        (None, None) => None,
    };
    let request = CampaignCommand {
        namespace: selector.resolve(None)?,
        name,
        candidate: body.candidate,
        ttl: seconds(body.ttl_seconds, "ttl_seconds")?,
        wait,
        value: body.value,
    };
    let leadership = state.elections.campaign(request).await?;
    Ok((StatusCode::CREATED, axum::Json(leadership_view(leadership))))
}

/// Replaces the leader's value; only the current leader may (409 `NOT_LEADER`).
#[utoipa::path(post, path = "/api/v1/elections/{name}/proclaim", tag = "elections", params(("name" = String, Path)),
    request_body = ProclaimRequest,
    responses((status = 200, body = LeadershipView), (status = 409, body = ErrorBody, description = "NOT_LEADER")))]
pub(crate) async fn proclaim(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<ProclaimRequest>,
) -> Result<axum::Json<LeadershipView>, ApiError> {
    let namespace = selector.resolve(None)?;
    let leadership =
        state.elections.proclaim(namespace, &name, &body.leadership_id, body.candidate, body.value).await?;
    Ok(axum::Json(leadership_view(leadership)))
}

/// Keeps leadership for another TTL.
#[utoipa::path(post, path = "/api/v1/elections/{name}/renew", tag = "elections", params(("name" = String, Path)),
    request_body = LeaderRequest,
    responses((status = 200, body = LeadershipView), (status = 409, body = ErrorBody, description = "NOT_LEADER")))]
pub(crate) async fn renew(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<LeaderRequest>,
) -> Result<axum::Json<LeadershipView>, ApiError> {
    let namespace = selector.resolve(None)?;
    let ttl = body.ttl_seconds.map(|ttl| seconds(ttl, "ttl_seconds")).transpose()?;
    let leadership = state.elections.renew(namespace, &name, &body.leadership_id, body.candidate, ttl).await?;
    Ok(axum::Json(leadership_view(leadership)))
}

/// Steps down; the next candidate in line leads at once.
#[utoipa::path(post, path = "/api/v1/elections/{name}/resign", tag = "elections", params(("name" = String, Path)),
    request_body = LeaderRequest,
    responses((status = 200, description = "Resigned"), (status = 409, body = ErrorBody, description = "NOT_LEADER")))]
pub(crate) async fn resign(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<LeaderRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    let namespace = selector.resolve(None)?;
    state.elections.resign(namespace, &name, &body.leadership_id, body.candidate).await?;
    Ok(axum::Json(json!({"success": true, "name": name})))
}

/// The leader (or none) and how many candidates wait.
#[utoipa::path(get, path = "/api/v1/elections/{name}", tag = "elections", params(("name" = String, Path)),
    responses((status = 200, body = ElectionView), (status = 422, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<ElectionView>, ApiError> {
    let namespace = selector.resolve(None)?;
    Ok(axum::Json(election_view(state.elections.state(&namespace, &name).await?)))
}

/// Streams leadership over Server-Sent Events: the election now, then again at every change of leader or value.
#[utoipa::path(get, path = "/api/v1/elections/{name}/observe", tag = "elections", params(("name" = String, Path)),
    responses((status = 200, content_type = "text/event-stream", description = "ElectionView at every change"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn observe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let namespace = selector.resolve(None)?;
    let changes = state.elections.observe(namespace, name).await?;
    let events = changes.take_until(state.shutdown.clone().cancelled_owned()).map(|change| {
        let event = match change {
            Ok(state) => Event::default().json_data(election_view(state)),
            Err(error) => Event::default().event("error").json_data(ApiError::from(error).into_detail()),
        };
        Ok(event.unwrap_or_else(|_| Event::default().event("error").data("{}")))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
