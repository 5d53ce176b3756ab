//! The Rust SDK for Baton's REST API, and [`LockGuard`], a held lock that renews itself.
//!
//! It deliberately holds no coordination logic: every decision is the server's.

mod cache;
mod coordination;
mod discovery;
mod events;
mod guard;
mod jobs;
mod keepalives;
mod keeper;
mod sagas;
mod worker;
mod workflows;

use std::time::Duration;

pub use baton_api as api;
use baton_api::error::ErrorBody;
use baton_api::lease::{CreateLeaseRequest, LeaseResponse};
use baton_api::lock::{
    AcquireLockRequest, LockGrant, LockList, LockStatusResponse, ReleaseLockRequest, ReleaseLockResponse,
    RenewLockRequest,
};
pub use cache::CacheRead;
pub use coordination::{ClaimGuard, Leadership, ListClaims};
pub use discovery::{InstanceQuery, Registration};
pub use events::{ReadAll, ReadGroup, ReadStream, Subscribe, SubscriptionEvent, event_body};
pub use guard::{LockGuard, LockOptions};
pub use jobs::ListJobs;
pub use keepalives::LeaseKeepalives;
use reqwest::{Method, RequestBuilder, StatusCode, Url};
pub use sagas::ListSagas;
use serde::de::DeserializeOwned;
use serde_json::Value;
pub use worker::{JobContext, JobError, Worker, WorkerReport};
pub use workflows::ListWorkflows;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error envelope.
    #[error("{code}: {message}")]
    Api { status: u16, code: String, message: String, details: Value },
    #[error("cannot reach the Baton server: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("not a server URL: {0}")]
    InvalidUrl(String),
    /// The request cannot be sent as asked (the SDK refused it before sending).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unexpected answer from the server (HTTP {status}): {body}")]
    Unexpected { status: u16, body: String },
    /// A streamed answer (a subscription) broke off or carried something unreadable.
    #[error("the subscription stream failed: {0}")]
    Stream(String),
}

impl ClientError {
    /// The stable error code (`LOCK_HELD`, …) when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A handle to one Baton server. Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct BatonClient {
    http: reqwest::Client,
    base_url: Url,
    namespace: Option<String>,
}

/// Filters for [`BatonClient::list_locks`].
#[derive(Clone, Debug, Default)]
pub struct ListLocks {
    pub owner: Option<String>,
    pub prefix: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// How long a connection to the server may take to open before a request fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl BatonClient {
    pub fn new(base_url: impl Into<String>) -> Result<Self, ClientError> {
        let base_url = base_url.into();
        let parsed = Url::parse(&base_url).map_err(|e| ClientError::InvalidUrl(format!("{base_url}: {e}")))?;
        if parsed.cannot_be_a_base() {
            return Err(ClientError::InvalidUrl(base_url));
        }
        // A connect timeout only: a whole-request timeout would also end subscriptions (SSE) and long polls.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Ok(Self { http, base_url: parsed, namespace: None })
    }

    /// Sends every request in this namespace (the `X-Baton-Namespace` header).
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    pub fn base_url(&self) -> &str {
        self.base_url.as_str()
    }

    /// A request to the server's path made of `segments`, each percent-encoded (keys may hold `/`).
    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let builder = self.http.request(method, url);
        match &self.namespace {
            Some(namespace) => builder.header("x-baton-namespace", namespace),
            None => builder,
        }
    }

    pub(crate) async fn send<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T, ClientError> {
        let (status, bytes) = self.send_checked(builder).await?;
        serde_json::from_slice(&bytes).map_err(|_| unexpected(status, &bytes))
    }

    /// For answers without a body (204).
    pub(crate) async fn send_empty(&self, builder: RequestBuilder) -> Result<(), ClientError> {
        self.send_checked(builder).await.map(|_| ())
    }

    /// Sends, and turns a non-2xx answer into [`ClientError::Api`].
    async fn send_checked(&self, builder: RequestBuilder) -> Result<(StatusCode, Vec<u8>), ClientError> {
        let response = self.open(builder).await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// Sends, and answers with the response (its body unread) when it is a 2xx.
    pub(crate) async fn open(&self, builder: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = builder.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await?.to_vec();
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
                details: body.error.details,
            }),
            Err(_) => Err(unexpected(status, &bytes)),
        }
    }

    pub async fn health(&self) -> Result<Value, ClientError> {
        self.send(self.request(Method::GET, &["health"])).await
    }

    pub async fn acquire_lock(&self, request: AcquireLockRequest) -> Result<LockGrant, ClientError> {
        // A waiting acquire may legitimately take as long as its wait; give the transport that long plus slack.
        let wait = request
            .wait_timeout_ms
            .map(|ms| Duration::from_millis(ms.max(0) as u64))
            .or(request.wait_timeout_seconds.map(|s| Duration::from_secs(s.max(0) as u64)))
            .unwrap_or_default();
        let builder =
            self.request(Method::POST, &["api", "v1", "locks"]).json(&request).timeout(wait + Duration::from_secs(30));
        self.send(builder).await
    }

    pub async fn release_lock(
        &self,
        key: &str,
        lock_id: &str,
        owner: &str,
    ) -> Result<ReleaseLockResponse, ClientError> {
        let body = ReleaseLockRequest { lock_id: lock_id.to_owned(), owner: owner.to_owned(), namespace: None };
        self.send(self.request(Method::DELETE, &["api", "v1", "locks", key]).json(&body)).await
    }

    pub async fn renew_lock(
        &self,
        key: &str,
        lock_id: &str,
        owner: &str,
        ttl_seconds: Option<i64>,
    ) -> Result<LockGrant, ClientError> {
        let body =
            RenewLockRequest { lock_id: lock_id.to_owned(), owner: owner.to_owned(), ttl_seconds, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "locks", key, "renew"]).json(&body)).await
    }

    pub async fn lock_status(&self, key: &str) -> Result<LockStatusResponse, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "locks", key, "status"])).await
    }

    pub async fn list_locks(&self, filter: &ListLocks) -> Result<LockList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(filter.owner.clone().map(|v| ("owner", v)));
        query.extend(filter.prefix.clone().map(|v| ("prefix", v)));
        query.extend(filter.cursor.clone().map(|v| ("cursor", v)));
        query.extend(filter.limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "locks"]).query(&query)).await
    }

    pub async fn grant_lease(&self, ttl_seconds: i64) -> Result<LeaseResponse, ClientError> {
        let body = CreateLeaseRequest { ttl_seconds, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "leases"]).json(&body)).await
    }

    pub async fn keepalive_lease(&self, lease_id: &str) -> Result<LeaseResponse, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "leases", lease_id, "keepalive"])).await
    }

    pub async fn get_lease(&self, lease_id: &str) -> Result<LeaseResponse, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "leases", lease_id])).await
    }

    pub async fn revoke_lease(&self, lease_id: &str) -> Result<(), ClientError> {
        let _: Value = self.send(self.request(Method::DELETE, &["api", "v1", "leases", lease_id])).await?;
        Ok(())
    }
}

fn unexpected(status: StatusCode, body: &[u8]) -> ClientError {
    ClientError::Unexpected { status: status.as_u16(), body: String::from_utf8_lossy(body).chars().take(500).collect() }
}
