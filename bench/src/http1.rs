//! A keep-alive HTTP/1.1 client for the cache and claims hot loops: one connection per simulated client.
//!
//! Two implementations behind one type, chosen with `--http`: a raw `hyper` connection (`hyper::client::conn`,
//! TCP_NODELAY, no pool, no redirects, no header bookkeeping beyond `Host` and `Content-Type`), and a
//! `reqwest::Client` with its pool. Both keep one connection open for the client's life; the hyper one does
//! less work per request, so it is the default, and `--http reqwest` measures what the difference is worth.
//! It does not retry or reconnect: a dropped connection is an error that ends the measurement.

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Which HTTP client the load generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HttpKind {
    /// A raw hyper HTTP/1.1 connection per client.
    Hyper,
    /// A `reqwest::Client` (its own pool, one connection in use) per client.
    Reqwest,
}

impl HttpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpKind::Hyper => "hyper",
            HttpKind::Reqwest => "reqwest",
        }
    }
}

enum Inner {
    Hyper(SendRequest<Full<Bytes>>),
    Reqwest(reqwest::Client),
}

/// One client's connection to one Baton server.
pub struct HttpClient {
    inner: Inner,
    /// `http://host:port`, without a trailing slash.
    base: String,
    /// `host:port`, sent as `Host`.
    authority: String,
}

impl HttpClient {
    /// Opens the connection and checks `GET /health`, so no measured request pays for the connect.
    pub async fn connect(kind: HttpKind, base: &str) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        let Some(authority) = base.strip_prefix("http://").map(str::to_owned) else {
            bail!("{base}: only http:// URLs are supported");
        };
        let inner = match kind {
            HttpKind::Hyper => {
                let stream = TcpStream::connect(&authority).await.with_context(|| format!("connect to {authority}"))?;
                stream.set_nodelay(true).context("set TCP_NODELAY")?;
                let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .with_context(|| format!("HTTP/1.1 handshake with {authority}"))?;
                // The connection task ends when the sender is dropped (or the server closes it).
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Inner::Hyper(sender)
            }
            HttpKind::Reqwest => Inner::Reqwest(reqwest::Client::builder().build().context("build HTTP client")?),
        };
        let mut client = Self { inner, base, authority };
        let (status, body) = client.request(Method::GET, "/health", None).await?;
        if !status.is_success() {
            bail!(
                "Baton is not healthy: GET {}/health answered {status}: {}",
                client.base,
                String::from_utf8_lossy(&body)
            );
        }
        Ok(client)
    }

    /// `http://host:port` of the server.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request (a JSON body when given) and reads the whole answer.
    pub async fn request(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<(StatusCode, Bytes)> {
        match &mut self.inner {
            Inner::Hyper(sender) => {
                sender.ready().await.with_context(|| format!("connection to {} closed", self.authority))?;
                let mut request = Request::builder().method(method.clone()).uri(path).header(HOST, &self.authority);
                if body.is_some() {
                    request = request.header(CONTENT_TYPE, "application/json");
                }
                let request = request.body(Full::new(body.unwrap_or_default())).context("build request")?;
                let response =
                    sender.send_request(request).await.with_context(|| format!("{method} {}{path}", self.base))?;
                let status = response.status();
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .with_context(|| format!("read the answer to {method} {}{path}", self.base))?
                    .to_bytes();
                Ok((status, bytes))
            }
            Inner::Reqwest(http) => {
                let url = format!("{}{path}", self.base);
                let mut request = http.request(method.clone(), &url);
                if let Some(body) = body {
                    request = request.header(CONTENT_TYPE, "application/json").body(body);
                }
                let response = request.send().await.with_context(|| format!("{method} {url}"))?;
                let status = response.status();
                let bytes = response.bytes().await.with_context(|| format!("read the answer to {method} {url}"))?;
                Ok((status, bytes))
            }
        }
    }
}

/// The error text for an unexpected answer; a 404 "no such route" means the server lacks that API altogether.
pub fn describe_failure(what: &str, api: &str, status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|v| v["error"]["message"].as_str()).unwrap_or_default();
    if status == StatusCode::NOT_FOUND && (message == "no such route" || text.trim().is_empty()) {
        return format!("Baton answered 404 to {what}: this server has no {api} API");
    }
    format!("Baton answered HTTP {status} to {what}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_route_is_named_as_a_missing_api() {
        let body = br#"{"error":{"code":"not_found","message":"no such route"}}"#;
        let text = describe_failure("GET /api/v1/cache/k", "cache", StatusCode::NOT_FOUND, body);
        assert!(text.contains("no cache API"), "{text}");
        let miss = br#"{"error":{"code":"CACHE_MISS","message":"no such key"}}"#;
        let text = describe_failure("GET /api/v1/cache/k", "cache", StatusCode::NOT_FOUND, miss);
        assert!(text.contains("CACHE_MISS"), "{text}");
    }
}
