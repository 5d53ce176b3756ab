//! `/api/v1/groups`: consumer groups over a namespace's log. Members join with a lease, heartbeat, read their
//! share, commit checkpoints under their generation, and leave.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use baton_api::error::ErrorBody;
use baton_api::event::{
    CommitRequest, GroupEvents, GroupList, GroupView, JoinGroupRequest, MemberRequest, MembershipResponse,
};
use baton_core::ErrorCode;
use baton_core::event::group::{CommitParams, GroupReadRequest, GroupStart, JoinRequest, MemberRef};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};
use crate::routes::event_view::{event_view, group_view, membership_response};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/groups", get(list))
        .route("/api/v1/groups/{group}", get(show).delete(remove))
        .route("/api/v1/groups/{group}/join", post(join))
        .route("/api/v1/groups/{group}/heartbeat", post(heartbeat))
        .route("/api/v1/groups/{group}/leave", post(leave))
        .route("/api/v1/groups/{group}/commit", post(commit))
        .route("/api/v1/groups/{group}/events", get(events))
}

/// Joins the group (creating it with these settings on first use); the answer says what the member owns.
#[utoipa::path(post, path = "/api/v1/groups/{group}/join", tag = "groups", params(("group" = String, Path)),
    request_body = JoinGroupRequest,
    responses((status = 201, body = MembershipResponse), (status = 409, body = ErrorBody, description = "GROUP_SETTINGS_MISMATCH"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn join(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<JoinGroupRequest>,
) -> Result<(StatusCode, axum::Json<MembershipResponse>), ApiError> {
    let namespace = selector.resolve(body.namespace.as_deref())?;
    let start = body
        .start
        .as_deref()
        .map(|raw| {
            GroupStart::parse(raw)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidArgument, "start must be beginning or end"))
        })
        .transpose()?;
    let request = JoinRequest {
        namespace,
        group,
        member_id: body.member_id,
        ttl: body.ttl_seconds.map(Duration::from_secs),
        partitions: body.partitions,
        stream_prefix: body.stream_prefix,
        event_type: body.event_type,
        start,
    };
    let membership = state.groups.join(request).await?;
    Ok((StatusCode::CREATED, axum::Json(membership_response(membership))))
}

fn member_ref(
    selector: NamespaceSelector,
    body_namespace: Option<&str>,
    group: String,
    member_id: String,
) -> Result<MemberRef, ApiError> {
    Ok(MemberRef { namespace: selector.resolve(body_namespace)?, group, member_id })
}

/// Renews the member's lease; the answer says what it owns now (a new generation means a rebalance).
#[utoipa::path(post, path = "/api/v1/groups/{group}/heartbeat", tag = "groups", params(("group" = String, Path)),
    request_body = MemberRequest,
    responses((status = 200, body = MembershipResponse), (status = 404, body = ErrorBody, description = "MEMBER_NOT_FOUND: join again")))]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<MemberRequest>,
) -> Result<axum::Json<MembershipResponse>, ApiError> {
    let member = member_ref(selector, body.namespace.as_deref(), group, body.member_id)?;
    Ok(axum::Json(membership_response(state.groups.heartbeat(member).await?)))
}

/// Leaves the group; its streams pass to the other members.
#[utoipa::path(post, path = "/api/v1/groups/{group}/leave", tag = "groups", params(("group" = String, Path)),
    request_body = MemberRequest,
    responses((status = 200, description = "Left"), (status = 404, body = ErrorBody)))]
pub(crate) async fn leave(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<MemberRequest>,
) -> Result<axum::Json<Value>, ApiError> {
    let member = member_ref(selector, body.namespace.as_deref(), group, body.member_id)?;
    let member_id = member.member_id.clone();
    state.groups.leave(member).await?;
    Ok(axum::Json(json!({"success": true, "member_id": member_id})))
}

/// Moves the checkpoints of the member's partitions up to `position`, under the current generation.
#[utoipa::path(post, path = "/api/v1/groups/{group}/commit", tag = "groups", params(("group" = String, Path)),
    request_body = CommitRequest,
    responses((status = 200, body = MembershipResponse),
        (status = 409, body = ErrorBody, description = "STALE_TOKEN: the group moved to a new generation"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "POSITION_OUT_OF_RANGE")))]
pub(crate) async fn commit(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<CommitRequest>,
) -> Result<axum::Json<MembershipResponse>, ApiError> {
    let member = member_ref(selector, body.namespace.as_deref(), group, body.member_id)?;
    let params = CommitParams { member, generation: body.generation, position: body.position };
    Ok(axum::Json(membership_response(state.groups.commit(params).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupReadQuery {
    member_id: String,
    /// The generation of the member's previous read: with it, `after_position` continues that read.
    generation: Option<i64>,
    /// Events up to here were already delivered in `generation` (processed, not yet committed).
    after_position: Option<i64>,
    /// 1 to 1000; 100 by default.
    limit: Option<u32>,
    /// Wait up to this long for events when there are none.
    wait_ms: Option<u64>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// The member's share of the log: events of its streams after their checkpoints, in log order.
#[utoipa::path(get, path = "/api/v1/groups/{group}/events", tag = "groups", params(("group" = String, Path), GroupReadQuery),
    responses((status = 200, body = GroupEvents), (status = 404, body = ErrorBody, description = "GROUP_NOT_FOUND or MEMBER_NOT_FOUND")))]
pub(crate) async fn events(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<GroupReadQuery>,
) -> Result<axum::Json<GroupEvents>, ApiError> {
    let member = member_ref(selector, None, group, query.member_id)?;
    let request = GroupReadRequest {
        member,
        generation: query.generation,
        after_position: query.after_position,
        limit: query.limit,
        wait: query.wait_ms.map(Duration::from_millis),
    };
    let batch = state.groups.read(request).await?;
    let membership = membership_response(batch.membership);
    Ok(axum::Json(GroupEvents {
        last_position: batch.read_through,
        events: batch.events.into_iter().map(event_view).collect(),
        group: membership.group,
        member_id: membership.member_id,
        generation: membership.generation,
        partitions: membership.partitions,
    }))
}

/// The group: settings, generation, members with what they own, and checkpoints.
#[utoipa::path(get, path = "/api/v1/groups/{group}", tag = "groups", params(("group" = String, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<GroupView>, ApiError> {
    let namespace = selector.resolve(None)?;
    let group = state.groups.get(&namespace, &group).await?;
    let streams = state.groups.member_streams(&group).await?;
    Ok(axum::Json(group_view(group, &streams)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// Groups by name, a page at a time.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(ListQuery),
    responses((status = 200, body = GroupList), (status = 422, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<axum::Json<GroupList>, ApiError> {
    let namespace = selector.resolve(None)?;
    let page = state.groups.list(&namespace, query.cursor.as_deref(), query.limit).await?;
    let mut groups = Vec::with_capacity(page.items.len());
    for group in page.items {
        let streams = state.groups.member_streams(&group).await?;
        groups.push(group_view(group, &streams));
    }
    Ok(axum::Json(GroupList { groups, next_cursor: page.next_cursor }))
}

/// Deletes the group with its members and checkpoints.
#[utoipa::path(delete, path = "/api/v1/groups/{group}", tag = "groups", params(("group" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    selector: NamespaceSelector,
) -> Result<axum::Json<Value>, ApiError> {
    let namespace = selector.resolve(None)?;
    state.groups.delete(&namespace, &group).await?;
    Ok(axum::Json(json!({"success": true, "group": group})))
}
