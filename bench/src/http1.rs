//! A keep-alive HTTP/1.1 client for the lock, cache, claims, jobs and events hot loops: one connection per
//! simulated client.
//!
//! Three implementations behind one type, chosen with `--http`:
//! - `raw` (the default): the client's own task writes the request bytes to its socket (TCP_NODELAY) and reads
//!   the answer back, parsing only the head (`httparse`) and taking `Content-Length` bytes of body, as
//!   redis-benchmark writes RESP and reads replies. A load generator on the same 2 cores as the server should
//!   spend as little of them as it can.
//! - `hyper`: a `hyper::client::conn` connection (no pool, no redirects), whose connection runs as a task of
//!   its own, so every request crosses two tasks.
//! - `reqwest`: a `reqwest::Client` with its pool.
//!
//! All keep one connection open for the client's life; `--http hyper|reqwest` measures what the difference in
//! client work is worth. It does not retry or reconnect: a dropped connection is an error that ends the
//! measurement.

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Which HTTP client the load generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HttpKind {
    /// Request bytes written and the answer read by the client's own task.
    Raw,
    /// A hyper HTTP/1.1 connection per client.
    Hyper,
    /// A `reqwest::Client` (its own pool, one connection in use) per client.
    Reqwest,
}

impl HttpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpKind::Raw => "raw",
            HttpKind::Hyper => "hyper",
            HttpKind::Reqwest => "reqwest",
        }
    }
}

enum Inner {
    Raw(RawConnection),
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
            HttpKind::Raw => {
                let stream = TcpStream::connect(&authority).await.with_context(|| format!("connect to {authority}"))?;
                stream.set_nodelay(true).context("set TCP_NODELAY")?;
                Inner::Raw(RawConnection { stream, read: Vec::with_capacity(READ_CHUNK), write: Vec::new() })
            }
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
            Inner::Raw(connection) => connection
                .exchange(&method, path, &self.authority, body.as_deref())
                .await
                .with_context(|| format!("{method} {}{path}", self.base)),
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

/// How much the raw client asks the socket for at a time.
const READ_CHUNK: usize = 16 * 1024;
/// The most response headers the raw client parses.
const MAX_HEADERS: usize = 32;

/// A connection the raw client writes requests to and reads answers from, in the caller's task.
struct RawConnection {
    stream: TcpStream,
    /// Bytes read but not yet consumed: the start of the next answer, at most.
    read: Vec<u8>,
    write: Vec<u8>,
}

impl RawConnection {
    async fn exchange(
        &mut self,
        method: &Method,
        path: &str,
        authority: &str,
        body: Option<&[u8]>,
    ) -> Result<(StatusCode, Bytes)> {
        self.write.clear();
        self.write.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\n").as_bytes());
        if let Some(body) = body {
            let head = format!("content-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
            self.write.extend_from_slice(head.as_bytes());
            self.write.extend_from_slice(body);
        } else {
            self.write.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&self.write).await.context("send the request")?;
        loop {
            if let Some((status, head_len, body_len)) = parse_head(&self.read)? {
                while self.read.len() < head_len + body_len {
                    self.fill().await?;
                }
                let answer = Bytes::copy_from_slice(&self.read[head_len..head_len + body_len]);
                self.read.drain(..head_len + body_len);
                return Ok((status, answer));
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<()> {
        self.read.reserve(READ_CHUNK);
        if self.stream.read_buf(&mut self.read).await.context("read the answer")? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// The status, head length and body length of a complete response head at the start of `bytes`; `None` while
/// the head is still partial. Only `Content-Length` bodies are understood (Baton sends no chunked answers to the
/// requests this client makes).
fn parse_head(bytes: &[u8]) -> Result<Option<(StatusCode, usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(bytes).context("parse the response head")? {
        httparse::Status::Complete(head_len) => head_len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = StatusCode::from_u16(response.code.unwrap_or_default()).context("the response status")?;
    let mut body_len = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            body_len = Some(std::str::from_utf8(header.value)?.trim().parse::<usize>().context("Content-Length")?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("a chunked answer ({status}): the raw client reads Content-Length bodies only; use --http hyper");
        }
    }
    Ok(Some((status, head_len, body_len.unwrap_or(0))))
}

/// `segment` percent-encoded for a URL path (the lock benchmark's keys hold `/`), keeping RFC 3986's unreserved
/// characters.
pub fn path_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
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
    fn a_response_head_is_parsed_once_complete() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_head(&answer[..20]).unwrap(), None, "a partial head waits for more bytes");
        let (status, head_len, body_len) = parse_head(answer).unwrap().expect("a complete head");
        assert_eq!((status, &answer[head_len..head_len + body_len]), (StatusCode::OK, &b"{}"[..]));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err(), "a chunked answer is refused, not misread");
    }

    #[test]
    fn a_path_segment_keeps_only_unreserved_characters() {
        assert_eq!(path_segment("bench-ab_1_2.x~y"), "bench-ab_1_2.x~y");
        assert_eq!(path_segment("locks/a b%"), "locks%2Fa%20b%25");
    }

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
