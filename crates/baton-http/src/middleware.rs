//! The layers every request passes: a request id (taken from `X-Request-Id` or made), a tracing span that
//! carries it into every log line, and per-route Prometheus metrics.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the process-wide Prometheus recorder once and returns its handle (later calls share it).
pub fn install_metrics_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
            PrometheusBuilder::new()
                .set_buckets(&buckets)
                .expect("static buckets are valid")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// Wraps the router: request ids outermost so every log line and answer carries one, metrics per matched
/// route (a `route_layer`, where the route template is known).
pub(crate) fn apply(router: Router) -> Router {
    router
        .route_layer(axum::middleware::from_fn(record_metrics))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn request_span(request: &Request) -> tracing::Span {
    let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
}

async fn record_metrics(request: Request, next: Next) -> Response {
    {
        let started = Instant::now();
        let method = request.method().to_string();
        // The route template, not the raw path, so keys do not explode the label set.
        let route =
            request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
        let response = next.run(request).await;
        let status = response.status().as_u16().to_string();
        let labels = [("method", method), ("route", route), ("status", status)];
        metrics::counter!("baton_http_requests_total", &labels).increment(1);
        metrics::histogram!("baton_http_request_duration_seconds", &labels[..2])
            .record(started.elapsed().as_secs_f64());
        response
    }
}
