//! The HTTP executor against a real local axum server: what the endpoint receives, and how each kind of answer
//! (or no answer) becomes an outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{any, get};
use baton_executor::{ExecutorConfig, execute};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{completed, failed, job, parse, run};

/// A real HTTP server on 127.0.0.1:0, serving:
/// - `/echo`: answers `{"method", "headers", "body"}` describing the request it got;
/// - `/status/{code}`: answers `code` with the body `status {code}`;
/// - `/slow`: signals `slow_request_arrived`, then takes 30 s to answer;
/// - `/big`: answers 1 MiB of `x`.
struct Server {
    base: String,
    slow_request_arrived: Arc<Notify>,
}

impl Server {
    async fn start() -> Server {
        let slow_request_arrived = Arc::new(Notify::new());
        let app = Router::new()
            .route("/echo", any(echo))
            .route("/status/{code}", any(status))
            .route("/slow", any(slow))
            .route("/big", get(|| async { "x".repeat(1024 * 1024) }))
            .with_state(slow_request_arrived.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The server runs until the test's runtime shuts down.
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base, slow_request_arrived }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn echo(method: Method, headers: HeaderMap, body: String) -> Json<Value> {
    let headers: serde_json::Map<String, Value> =
        headers.iter().map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap()))).collect();
    Json(json!({"method": method.as_str(), "headers": headers, "body": body}))
}

async fn status(Path(code): Path<u16>) -> (StatusCode, String) {
    (StatusCode::from_u16(code).unwrap(), format!("status {code}"))
}

async fn slow(State(arrived): State<Arc<Notify>>) -> &'static str {
    arrived.notify_one();
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}

fn http(config: Value) -> ExecutorConfig {
    parse("http", config)
}

#[tokio::test]
async fn payload_is_posted_as_json_with_the_job_headers() {
    let server = Server::start().await;
    let result = completed(run(&http(json!({"url": server.url("/echo")})), &job()).await);

    assert_eq!(result["status"], 200);
    assert_eq!(result["body_truncated"], false);
    assert!(result["duration_ms"].is_u64());
    let request = &result["body"]; // the echo answered JSON, so the body is parsed
    assert_eq!(request["method"], "POST");
    assert_eq!(serde_json::from_str::<Value>(request["body"].as_str().unwrap()).unwrap(), job().payload);
    let headers = &request["headers"];
    assert_eq!(
        [&headers["content-type"], &headers["x-baton-job-id"], &headers["x-baton-attempt"]],
        [&json!("application/json"), &json!("job-1"), &json!("2")]
    );
    assert!(headers["user-agent"].as_str().unwrap().starts_with("baton-executor/"), "{headers}");
}

#[tokio::test]
async fn body_template_placeholders_and_configured_headers_are_sent() {
    let server = Server::start().await;
    let config = http(json!({
        "method": "put",
        "url": server.url("/echo"),
        "headers": {"Content-Type": "application/json", "X-Custom": "yes"},
        "body_template":
            r#"{"job": "{{job_id}}", "attempt": {{ attempt }}, "route": "{{queue}}/{{type}}", "data": {{payload}}}"#,
    }));
    let mut job = job();
    // Substitution is one pass: a placeholder inside the payload is sent as written.
    job.payload = json!({"note": "{{job_id}}"});

    let request = completed(run(&config, &job).await)["body"].clone();

    assert_eq!(request["method"], "PUT");
    assert_eq!(
        serde_json::from_str::<Value>(request["body"].as_str().unwrap()).unwrap(),
        json!({"job": "job-1", "attempt": 2, "route": "emails/send", "data": {"note": "{{job_id}}"}})
    );
    assert_eq!(
        [&request["headers"]["content-type"], &request["headers"]["x-custom"], &request["headers"]["x-baton-job-id"]],
        [&json!("application/json"), &json!("yes"), &json!("job-1")]
    );
}

#[tokio::test]
async fn status_decides_between_retry_and_give_up() {
    let server = Server::start().await;
    // (status, retryable, error)
    let cases = [
        (500, true, "HTTP 500 Internal Server Error: status 500"),
        (503, true, "HTTP 503 Service Unavailable: status 503"),
        (408, true, "HTTP 408 Request Timeout: status 408"),
        (429, true, "HTTP 429 Too Many Requests: status 429"),
        (404, false, "HTTP 404 Not Found: status 404"),
        (400, false, "HTTP 400 Bad Request: status 400"),
        (409, false, "HTTP 409 Conflict: status 409"),
    ];
    for (code, retryable, error) in cases {
        let config = http(json!({"url": server.url(&format!("/status/{code}"))}));
        let outcome = failed(run(&config, &job()).await);
        assert_eq!(
            outcome,
            (
                error.to_owned(),
                retryable,
                json!({
                    "status": code,
                    "body": format!("status {code}"),
                    "body_truncated": false,
                    "duration_ms": outcome.2["duration_ms"],
                })
            ),
            "status {code}"
        );
    }
    let accepted = completed(run(&http(json!({"url": server.url("/status/202")})), &job()).await);
    assert_eq!((accepted["status"].clone(), accepted["body"].clone()), (json!(202), json!("status 202")));
}

#[tokio::test]
async fn response_body_is_capped_and_marked_truncated() {
    let server = Server::start().await;
    let config = http(json!({"method": "GET", "url": server.url("/big"), "max_response_bytes": 1000}));
    let result = completed(run(&config, &job()).await);
    assert_eq!(result["body"], "x".repeat(1000));
    assert_eq!(result["body_truncated"], true);
}

#[tokio::test]
async fn timeout_is_a_retryable_failure() {
    let server = Server::start().await;
    let mut job = job();
    job.timeout = Duration::from_millis(500);
    let started = Instant::now();

    let (error, retryable, result) = failed(run(&http(json!({"url": server.url("/slow")})), &job).await);

    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!((error.as_str(), retryable, result), ("timed out after 500ms", true, Value::Null));
}

#[tokio::test]
async fn refused_connection_is_a_retryable_failure() {
    // A port that was just free and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);

    let (error, retryable, result) = failed(run(&http(json!({"url": url})), &job()).await);

    assert!(error.starts_with("could not connect: "), "{error}");
    assert!(error.contains("Connection refused"), "{error}");
    assert!(retryable);
    assert_eq!(result, Value::Null);
}

#[tokio::test]
async fn cancel_drops_the_request_and_is_not_retryable() {
    let server = Server::start().await;
    let config = http(json!({"url": server.url("/slow")}));
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let attempt = tokio::spawn({
        let cancel = cancel.clone();
        async move { execute(&config, &job(), cancel).await }
    });

    server.slow_request_arrived.notified().await;
    cancel.cancel();

    let (error, retryable, _) = failed(attempt.await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!((error.as_str(), retryable), ("cancelled", false));
}
