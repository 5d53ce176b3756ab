//! `/api/v1/claims/{namespace}`: claim a resource, renew it, mark it done (never granted again) or discard
//! it, claim the first free one of a list, inspect and list.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use baton_api::claim::{
    ClaimList, ClaimRequest, ClaimStatusView, ClaimView, DiscardClaimRequest, DoneClaimRequest, NextClaimRequest,
    RenewClaimRequest,
};
use baton_api::error::ErrorBody;
use baton_core::claim::service::{ClaimRequest as ClaimCommand, ListClaimsRequest, NextClaimRequest as NextCommand};
use baton_core::claim::{Claim, ClaimState, ClaimStatus};
use baton_core::clock::Timestamp;
use baton_core::{ErrorCode, Namespace};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/claims/{namespace}", get(list))
        // `next` is the route's, not a resource's: its status (GET) gets a clear refusal rather than a 405.
        .route("/api/v1/claims/{namespace}/next", post(next).fallback(reserved_resource))
        .route("/api/v1/claims/{namespace}/{resource}", post(claim).get(status))
        .route("/api/v1/claims/{namespace}/{resource}/renew", post(renew))
        .route("/api/v1/claims/{namespace}/{resource}/done", post(done))
        .route("/api/v1/claims/{namespace}/{resource}/discard", post(discard))
}

async fn reserved_resource() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidArgument,
        "'next' cannot be named as a resource here: POST /claims/{namespace}/next claims the first free candidate",
    )
}

pub(crate) fn claim_view(claim: Claim) -> ClaimView {
    ClaimView {
        success: true,
        claim_id: claim.claim_id.to_string(),
        namespace: claim.namespace.to_string(),
        resource: claim.resource,
        owner: claim.owner,
        fencing_token: claim.fencing_token.0,
        state: claim.state.as_str().to_owned(),
        acquired_at: claim.acquired_at.to_rfc3339(),
        expires_at: claim.expires_at.map(Timestamp::to_rfc3339),
        done_at: claim.done_at.map(Timestamp::to_rfc3339),
        metadata: claim.metadata,
    }
}

/// A TTL from the wire, refused when negative (a zero or too-long TTL is the service's call).
fn ttl(seconds: i64) -> Result<Duration, ApiError> {
    u64::try_from(seconds)
        .map(Duration::from_secs)
        .map_err(|_| ApiError::new(ErrorCode::TtlOutOfRange, "ttl_seconds must not be negative"))
}

/// Claims the resource: 201 with a claim id and fencing token, or 409 `CLAIM_HELD` / `CLAIM_DONE`.
#[utoipa::path(post, path = "/api/v1/claims/{namespace}/{resource}", tag = "claims",
    params(("namespace" = String, Path), ("resource" = String, Path)), request_body = ClaimRequest,
    responses((status = 201, body = ClaimView), (status = 409, body = ErrorBody, description = "CLAIM_HELD or CLAIM_DONE"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn claim(
    State(state): State<AppState>,
    ApiPath((namespace, resource)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ClaimRequest>,
) -> Result<(StatusCode, axum::Json<ClaimView>), ApiError> {
    let request = ClaimCommand {
        namespace: Namespace::parse(&namespace)?,
        resource,
        owner: body.owner,
        ttl: ttl(body.ttl_seconds)?,
        metadata: body.metadata,
    };
    Ok((StatusCode::CREATED, axum::Json(claim_view(state.claims.claim(request).await?))))
}

/// Claims the first candidate that is neither held nor done, in one round trip; 409 `NO_CLAIM_AVAILABLE` when
/// there is none.
#[utoipa::path(post, path = "/api/v1/claims/{namespace}/next", tag = "claims", params(("namespace" = String, Path)),
    request_body = NextClaimRequest,
    responses((status = 201, body = ClaimView), (status = 409, body = ErrorBody, description = "NO_CLAIM_AVAILABLE"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn next(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiJson(body): ApiJson<NextClaimRequest>,
) -> Result<(StatusCode, axum::Json<ClaimView>), ApiError> {
    let request = NextCommand {
        namespace: Namespace::parse(&namespace)?,
        candidates: body.candidates,
        owner: body.owner,
        ttl: ttl(body.ttl_seconds)?,
        metadata: body.metadata,
    };
    Ok((StatusCode::CREATED, axum::Json(claim_view(state.claims.next(request).await?))))
}

#[utoipa::path(post, path = "/api/v1/claims/{namespace}/{resource}/renew", tag = "claims",
    params(("namespace" = String, Path), ("resource" = String, Path)), request_body = RenewClaimRequest,
    responses((status = 200, body = ClaimView), (status = 409, body = ErrorBody, description = "CLAIM_NOT_HELD")))]
pub(crate) async fn renew(
    State(state): State<AppState>,
    ApiPath((namespace, resource)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RenewClaimRequest>,
) -> Result<axum::Json<ClaimView>, ApiError> {
    let ttl = body.ttl_seconds.map(ttl).transpose()?;
    let claim = state.claims.renew(Namespace::parse(&namespace)?, &resource, &body.claim_id, body.owner, ttl).await?;
    Ok(axum::Json(claim_view(claim)))
}

/// Marks the claim done: the resource is never granted again. Repeating it answers with the done record.
#[utoipa::path(post, path = "/api/v1/claims/{namespace}/{resource}/done", tag = "claims",
    params(("namespace" = String, Path), ("resource" = String, Path)), request_body = DoneClaimRequest,
    responses((status = 200, body = ClaimView), (status = 409, body = ErrorBody, description = "CLAIM_NOT_HELD or CLAIM_DONE")))]
pub(crate) async fn done(
    State(state): State<AppState>,
    ApiPath((namespace, resource)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<DoneClaimRequest>,
) -> Result<axum::Json<ClaimView>, ApiError> {
    let claim =
        state.claims.done(Namespace::parse(&namespace)?, &resource, &body.claim_id, body.owner, body.metadata).await?;
    Ok(axum::Json(claim_view(claim)))
}

/// Releases the claim without marking it done: the resource can be claimed again.
#[utoipa::path(post, path = "/api/v1/claims/{namespace}/{resource}/discard", tag = "claims",
    params(("namespace" = String, Path), ("resource" = String, Path)), request_body = DiscardClaimRequest,
    responses((status = 200, body = ClaimView), (status = 409, body = ErrorBody, description = "CLAIM_NOT_HELD")))]
pub(crate) async fn discard(
    State(state): State<AppState>,
    ApiPath((namespace, resource)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<DiscardClaimRequest>,
) -> Result<axum::Json<ClaimView>, ApiError> {
    let claim = state.claims.discard(Namespace::parse(&namespace)?, &resource, &body.claim_id, body.owner).await?;
    Ok(axum::Json(claim_view(claim)))
}

/// Free, held (with its claim) or done (with its record).
#[utoipa::path(get, path = "/api/v1/claims/{namespace}/{resource}", tag = "claims",
    params(("namespace" = String, Path), ("resource" = String, Path)),
    responses((status = 200, body = ClaimStatusView), (status = 422, body = ErrorBody)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    ApiPath((namespace, resource)): ApiPath<(String, String)>,
) -> Result<axum::Json<ClaimStatusView>, ApiError> {
    let status = state.claims.status(&Namespace::parse(&namespace)?, &resource).await?;
    let (state, claim) = match status {
        ClaimStatus::Free => ("free", None),
        ClaimStatus::Held(claim) => ("held", Some(claim_view(claim))),
        ClaimStatus::Done(claim) => ("done", Some(claim_view(claim))),
    };
    Ok(axum::Json(ClaimStatusView { resource, state: state.to_owned(), claim }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// `held` or `done`; both by default.
    state: Option<String>,
    owner: Option<String>,
    /// Only resources whose name starts with this.
    prefix: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Held and done claims, by resource name.
#[utoipa::path(get, path = "/api/v1/claims/{namespace}", tag = "claims", params(("namespace" = String, Path), ListQuery),
    responses((status = 200, body = ClaimList), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiPath(namespace): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<axum::Json<ClaimList>, ApiError> {
    let claim_state = query
        .state
        .as_deref()
        .map(|raw| {
            ClaimState::parse(raw)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidArgument, "state must be held or done"))
        })
        .transpose()?;
    let request = ListClaimsRequest {
        namespace: Namespace::parse(&namespace)?,
        state: claim_state,
        owner: query.owner,
        prefix: query.prefix,
        cursor: query.cursor,
        limit: query.limit,
    };
    let page = state.claims.list(request).await?;
    Ok(axum::Json(ClaimList {
        claims: page.items.into_iter().map(claim_view).collect(),
        next_cursor: page.next_cursor,
    }))
}
