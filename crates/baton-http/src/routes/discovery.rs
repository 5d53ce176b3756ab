//! `/api/v1/services`: register, heartbeat and deregister instances, list services and a service's instances
//! (healthy and tag filters, Consul-style blocking queries on the modify index), and watch a service over
//! Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post, put};
use baton_api::discovery::{
    CheckView, InstanceView, RegisterInstanceRequest, ServiceInstancesView, ServiceList, ServiceSummaryView,
};
use baton_api::error::ErrorBody;
use baton_core::ErrorCode;
use baton_core::clock::Timestamp;
use baton_core::discovery::service::{CheckRequest, InstancesRequest, MAX_BLOCKING_WAIT, RegisterRequest};
use baton_core::discovery::{HealthCheck, Instance, ServiceInstances};
use futures::{Stream, StreamExt as _};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, NamespaceSelector};

/// The header that carries a service's modify index, for the next blocking query.
pub const INDEX_HEADER: &str = "x-baton-index";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/services/{service}", get(instances))
        .route("/api/v1/services/{service}/watch", get(watch))
        .route("/api/v1/services/{service}/instances/{instance_id}", put(register).get(show).delete(deregister))
        .route("/api/v1/services/{service}/instances/{instance_id}/heartbeat", post(heartbeat))
}

fn seconds(ms: i64) -> i64 {
    ms / 1000
}

fn check_view(check: &HealthCheck) -> CheckView {
    let mut view = CheckView {
        kind: check.kind().to_owned(),
        ttl_seconds: None,
        http: None,
        tcp: None,
        method: None,
        interval_seconds: check.interval_ms().map(seconds),
        timeout_seconds: check.timeout_ms().map(seconds),
    };
    match check {
        HealthCheck::Ttl { ttl_ms } => view.ttl_seconds = Some(seconds(*ttl_ms)),
        HealthCheck::Http { url, method, .. } => {
            view.http = Some(url.clone());
            view.method = Some(method.clone());
        }
        HealthCheck::Tcp { address, .. } => view.tcp = Some(address.clone()),
    }
    view
}

pub(crate) fn instance_view(instance: Instance) -> InstanceView {
    InstanceView {
        namespace: instance.namespace.to_string(),
        service: instance.service,
        instance_id: instance.instance_id,
        address: instance.address,
        port: instance.port,
        tags: instance.tags,
        metadata: instance.metadata,
        health: instance.health.as_str().to_owned(),
        output: instance.output,
        check: check_view(&instance.check),
        deregister_after_seconds: instance.deregister_after_ms.map(seconds),
        expires_at: instance.expires_at.map(Timestamp::to_rfc3339),
        critical_since: instance.critical_since.map(Timestamp::to_rfc3339),
        checked_by: instance.checked_by,
        registered_at: instance.registered_at.to_rfc3339(),
        updated_at: instance.updated_at.to_rfc3339(),
        index: instance.modify_index,
    }
}

fn instances_view(found: ServiceInstances) -> ServiceInstancesView {
    ServiceInstancesView {
        service: found.service,
        index: found.index,
        instances: found.instances.into_iter().map(instance_view).collect(),
        next_cursor: found.next_cursor,
    }
}

fn index_header(index: i64) -> [(HeaderName, HeaderValue); 1] {
    [(HeaderName::from_static(INDEX_HEADER), HeaderValue::from(index))]
}

/// Registers an instance (201), or updates the one with this id (200). A TTL instance starts passing (the
/// registration is its first heartbeat); a checked one starts critical until its first check passes.
#[utoipa::path(put, path = "/api/v1/services/{service}/instances/{instance_id}", tag = "discovery",
    params(("service" = String, Path), ("instance_id" = String, Path)), request_body = RegisterInstanceRequest,
    responses((status = 201, body = InstanceView, description = "Registered"), (status = 200, body = InstanceView, description = "Updated"),
        (status = 422, body = ErrorBody, description = "INVALID_CHECK, TTL_OUT_OF_RANGE, INVALID_ARGUMENT, KEY_TOO_LONG or PAYLOAD_TOO_LARGE")))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ApiPath((service, instance_id)): ApiPath<(String, String)>,
    selector: NamespaceSelector,
    ApiJson(body): ApiJson<RegisterInstanceRequest>,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1], axum::Json<InstanceView>), ApiError> {
    let request = RegisterRequest {
        namespace: selector.resolve(body.namespace.as_deref())?,
        service,
        instance_id,
        address: body.address,
        port: body.port,
        tags: body.tags,
        metadata: body.metadata,
        ttl_seconds: body.ttl_seconds,
        check: body.check.map(|check| CheckRequest {
            http: check.http,
            tcp: check.tcp,
            method: check.method,
            interval_seconds: check.interval_seconds,
            timeout_seconds: check.timeout_seconds,
        }),
        deregister_after_seconds: body.deregister_after_seconds,
    };
    let registered = state.discovery.register(request).await?;
    let status = if registered.created { StatusCode::CREATED } else { StatusCode::OK };
    let index = registered.instance.modify_index;
    Ok((status, index_header(index), axum::Json(instance_view(registered.instance))))
}

/// Renews a TTL instance (a critical one passes again); 409 `NOT_TTL_INSTANCE` for a checked one.
#[utoipa::path(post, path = "/api/v1/services/{service}/instances/{instance_id}/heartbeat", tag = "discovery",
    params(("service" = String, Path), ("instance_id" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, body = ErrorBody, description = "INSTANCE_NOT_FOUND"),
        (status = 409, body = ErrorBody, description = "NOT_TTL_INSTANCE")))]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    ApiPath((service, instance_id)): ApiPath<(String, String)>,
    selector: NamespaceSelector,
) -> Result<axum::Json<InstanceView>, ApiError> {
    let instance = state.discovery.heartbeat(selector.resolve(None)?, &service, &instance_id).await?;
    Ok(axum::Json(instance_view(instance)))
}

/// Deregisters the instance and answers with it as it was.
#[utoipa::path(delete, path = "/api/v1/services/{service}/instances/{instance_id}", tag = "discovery",
    params(("service" = String, Path), ("instance_id" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, body = ErrorBody, description = "INSTANCE_NOT_FOUND")))]
pub(crate) async fn deregister(
    State(state): State<AppState>,
    ApiPath((service, instance_id)): ApiPath<(String, String)>,
    selector: NamespaceSelector,
) -> Result<axum::Json<InstanceView>, ApiError> {
    let instance = state.discovery.deregister(selector.resolve(None)?, &service, &instance_id).await?;
    Ok(axum::Json(instance_view(instance)))
}

#[utoipa::path(get, path = "/api/v1/services/{service}/instances/{instance_id}", tag = "discovery",
    params(("service" = String, Path), ("instance_id" = String, Path)),
    responses((status = 200, body = InstanceView), (status = 404, body = ErrorBody, description = "INSTANCE_NOT_FOUND")))]
pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath((service, instance_id)): ApiPath<(String, String)>,
    selector: NamespaceSelector,
) -> Result<axum::Json<InstanceView>, ApiError> {
    let instance = state.discovery.instance(selector.resolve(None)?, &service, &instance_id).await?;
    Ok(axum::Json(instance_view(instance)))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServicesQuery {
    namespace: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Services with instances, by name, each with its instances counted by health and its modify index.
#[utoipa::path(get, path = "/api/v1/services", tag = "discovery", params(ServicesQuery),
    responses((status = 200, body = ServiceList), (status = 422, body = ErrorBody)))]
pub(crate) async fn list_services(
    State(state): State<AppState>,
    selector: NamespaceSelector,
    ApiQuery(query): ApiQuery<ServicesQuery>,
) -> Result<axum::Json<ServiceList>, ApiError> {
    let page =
        state.discovery.services(selector.resolve(query.namespace.as_deref())?, query.cursor, query.limit).await?;
    let services = page
        .items
        .into_iter()
        .map(|summary| ServiceSummaryView {
            service: summary.service,
            passing: summary.passing,
            critical: summary.critical,
            total: summary.total,
            index: summary.index,
        })
        .collect();
    Ok(axum::Json(ServiceList { services, next_cursor: page.next_cursor }))
}

/// The query of an instance listing. `tag` may repeat, so it is read from the raw pairs.
struct InstancesQuery {
    healthy: bool,
    tags: Vec<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    index: Option<i64>,
    wait: Option<Duration>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, message)
}

impl InstancesQuery {
    fn parse(pairs: Vec<(String, String)>, allow_blocking: bool) -> Result<Self, ApiError> {
        let mut query = Self { healthy: false, tags: Vec::new(), cursor: None, limit: None, index: None, wait: None };
        for (name, value) in pairs {
            match name.as_str() {
                "healthy" | "passing" => {
                    query.healthy = match value.as_str() {
                        "" | "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(invalid("healthy must be true or false")),
                    }
                }
                "tag" => query.tags.push(value),
                "cursor" => query.cursor = Some(value),
                "limit" => query.limit = Some(value.parse().map_err(|_| invalid("limit must be a number"))?),
                "index" if allow_blocking => {
                    let index = value.parse::<i64>().ok().filter(|index| *index >= 0);
                    query.index = Some(index.ok_or_else(|| invalid("index must be a non-negative integer"))?);
                }
                "wait" if allow_blocking => query.wait = Some(parse_wait(&value)?),
                // Read by the namespace selector.
                "namespace" => {}
                other => return Err(invalid(format!("unknown query parameter '{other}'"))),
            }
        }
        Ok(query)
    }
}

/// A blocking query's wait: `30s`, `1m`, `500ms`, `1h` or plain seconds; longer than five minutes is cut to five.
fn parse_wait(raw: &str) -> Result<Duration, ApiError> {
    let bad = || invalid("wait must be a duration such as 30s, 1m, 500ms or a number of seconds");
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let wait = match unit {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(bad()),
    };
    Ok(wait.min(MAX_BLOCKING_WAIT))
}

/// A service's instances by id (`healthy=true` for passing ones only; `tag` repeated for instances carrying
/// every tag). With `index=N` it is a blocking query: it answers when the service's modify index differs from
/// N, or when `wait` (default and cap: 5 minutes) passes, with the same index. The index is also in the
/// `X-Baton-Index` header.
#[utoipa::path(get, path = "/api/v1/services/{service}", tag = "discovery",
    params(("service" = String, Path), ("healthy" = Option<bool>, Query), ("tag" = Option<Vec<String>>, Query),
        ("index" = Option<i64>, Query, description = "Block until the modify index differs from this"),
        ("wait" = Option<String>, Query, description = "How long to block: 30s, 1m, 500ms or seconds"),
        ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query), ("namespace" = Option<String>, Query)),
    responses((status = 200, body = ServiceInstancesView, headers(("x-baton-index" = i64, description = "The modify index"))),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn instances(
    State(state): State<AppState>,
    ApiPath(service): ApiPath<String>,
    selector: NamespaceSelector,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<([(HeaderName, HeaderValue); 1], axum::Json<ServiceInstancesView>), ApiError> {
    let query = InstancesQuery::parse(pairs, true)?;
    let request = InstancesRequest {
        namespace: selector.resolve(None)?,
        service,
        healthy_only: query.healthy,
        tags: query.tags,
        cursor: query.cursor,
        limit: query.limit,
    };
    let found = match query.index {
        Some(index) => {
            let wait = query.wait.unwrap_or(MAX_BLOCKING_WAIT);
            let wait_for = state.discovery.instances_after(request.clone(), index, wait);
            // Shutdown answers a blocked query at once with the instances now, as if its wait had passed.
            tokio::select! {
                found = wait_for => found?,
                () = state.shutdown.cancelled() => state.discovery.instances(request).await?,
            }
        }
        None => state.discovery.instances(request).await?,
    };
    Ok((index_header(found.index), axum::Json(instances_view(found))))
}

/// Streams a service's instances over Server-Sent Events: the list now, then again each time the service's
/// modify index moves on (event `id` = the index). Filters as for the listing.
#[utoipa::path(get, path = "/api/v1/services/{service}/watch", tag = "discovery",
    params(("service" = String, Path), ("healthy" = Option<bool>, Query), ("tag" = Option<Vec<String>>, Query),
        ("namespace" = Option<String>, Query)),
    responses((status = 200, content_type = "text/event-stream", description = "ServiceInstancesView at every change"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "TOO_MANY_SUBSCRIPTIONS")))]
pub(crate) async fn watch(
    State(state): State<AppState>,
    ApiPath(service): ApiPath<String>,
    selector: NamespaceSelector,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let query = InstancesQuery::parse(pairs, false)?;
    let request = InstancesRequest {
        namespace: selector.resolve(None)?,
        service,
        healthy_only: query.healthy,
        tags: query.tags,
        cursor: None,
        limit: None,
    };
    let changes = state.discovery.watch(request).await?;
    let events = changes.take_until(state.shutdown.clone().cancelled_owned()).map(|change| {
        let event = match change {
            Ok(found) => {
                let id = found.index.to_string();
                Event::default().id(id).json_data(instances_view(found))
            }
            Err(error) => Event::default().event("error").json_data(ApiError::from(error).into_detail()),
        };
        Ok(event.unwrap_or_else(|_| Event::default().event("error").data("{}")))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_like_consuls_and_are_capped() {
        assert_eq!(parse_wait("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_wait("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_wait("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_wait("12").unwrap(), Duration::from_secs(12));
        assert_eq!(parse_wait("2h").unwrap(), MAX_BLOCKING_WAIT);
        for bad in ["", "s", "10x", "-5s", "1.5s"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }
}
