//! Sending one attempt's request and mapping the response (or its absence) to an [`Outcome`].

use std::error::Error as _;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, StatusCode, Url};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::HttpConfig;
use super::template;
use crate::job::{JobContext, Outcome};
use crate::text::{Capped, ERROR_SNIPPET_CHARS, format_duration, millis, truncate_chars};

/// One client for the whole process, built on first use: it holds the connection pool (so consecutive attempts
/// against one endpoint reuse connections) and the TLS configuration, which is costly to build per request.
static CLIENT: OnceLock<Result<Client, String>> = OnceLock::new();

fn client() -> Result<&'static Client, String> {
    CLIENT
        .get_or_init(|| {
            Client::builder()
                .user_agent(concat!("baton-executor/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("could not build the HTTP client: {}", error_chain(&e)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs one attempt of `job` as the request `config` describes. See [`crate::execute`].
pub(crate) async fn run(config: &HttpConfig, job: &JobContext, cancel: CancellationToken) -> Outcome {
    let started = Instant::now();
    let request = match request(config, job) {
        Ok(request) => request,
        // The config or the job cannot make a request (only possible for a config that skipped validation, or a
        // job id that is not a valid header value): another attempt would fail the same way.
        Err(error) => return Outcome::Failed { error, retryable: false, result: Value::Null },
    };
    tokio::select! {
        biased;
        () = cancel.cancelled() => Outcome::cancelled(Value::Null),
        outcome = send(request, config.max_response_bytes, job.timeout, started) => outcome,
    }
}

/// The request for one attempt: configured method, URL and headers, the job headers, and the body.
fn request(config: &HttpConfig, job: &JobContext) -> Result<RequestBuilder, String> {
    let method =
        Method::from_bytes(config.method.as_bytes()).map_err(|_| format!("invalid method {:?}", config.method))?;
    let url = Url::parse(&config.url).map_err(|e| format!("invalid url {:?}: {e}", config.url))?;
    let mut headers = HeaderMap::with_capacity(config.headers.len() + 3);
    for (name, value) in &config.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        headers.insert(name, value);
    }
    let job_id = HeaderValue::from_str(&job.job_id)
        .map_err(|_| format!("job id {:?} is not a valid header value", job.job_id))?;
    headers.insert("x-baton-job-id", job_id);
    headers.insert("x-baton-attempt", HeaderValue::from(job.attempt));
    let body = match &config.body_template {
        Some(body_template) => template::render(body_template, job),
        None => {
            headers.entry(CONTENT_TYPE).or_insert(HeaderValue::from_static("application/json"));
            job.payload.to_string()
        }
    };
    Ok(client()?.request(method, url).headers(headers).body(body).timeout(job.timeout))
}

/// Sends the request and reads at most `max_body` bytes of the response. `timeout` (also set on the request, where
/// it covers connecting, sending and reading the body) is only quoted in the error message.
async fn send(request: RequestBuilder, max_body: usize, timeout: Duration, started: Instant) -> Outcome {
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return transport_failure(&e, timeout, Value::Null),
    };
    let status = response.status();
    let mut body = Capped::new(max_body);
    let mut read_error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.push(&chunk);
                // Stop reading: the rest would be thrown away, and dropping the response closes the connection.
                if body.truncated {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    let result = json!({
        "status": status.as_u16(),
        "body": body.to_json().unwrap_or_else(|| Value::String(body.to_text())),
        "body_truncated": body.truncated,
        "duration_ms": millis(started.elapsed()),
    });
    if let Some(e) = read_error {
        return transport_failure(&e, timeout, result);
    }
    if status.is_success() {
        return Outcome::Completed { result };
    }
    let mut error = format!("HTTP {status}");
    let text = body.to_text();
    let snippet = truncate_chars(text.trim(), ERROR_SNIPPET_CHARS);
    if !snippet.is_empty() {
        error.push_str(": ");
        error.push_str(snippet);
    }
    Outcome::Failed { error, retryable: is_retryable(status), result }
}

/// 408, 429 and 5xx say "not now" (the server was slow, busy or broken); any other non-2xx status says the request
/// itself is wrong, and sending it again would get the same answer.
fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS
}

/// A request that got no (complete) response. Timeouts and connection trouble are retried; a request reqwest
/// refused to build, or a redirect loop, would fail the same way again.
fn transport_failure(e: &reqwest::Error, timeout: Duration, result: Value) -> Outcome {
    let (error, retryable) = if e.is_timeout() {
        (format!("timed out after {}", format_duration(timeout)), true)
    } else if e.is_connect() {
        (format!("could not connect: {}", error_chain(e)), true)
    } else if e.is_builder() || e.is_redirect() {
        (format!("request failed: {}", error_chain(e)), false)
    } else {
        (format!("request failed: {}", error_chain(e)), true)
    };
    Outcome::Failed { error, retryable, result }
}

/// reqwest's own message is generic ("error sending request for url (...)"); the cause that says what happened
/// ("Connection refused") is further down the chain.
fn error_chain(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and std sometimes repeat the message of the error they wrap.
        if !message.ends_with(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}
