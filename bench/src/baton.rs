//! Baton as a benchmark target, over HTTP.
//!
//! - acquire: `POST /api/v1/locks` with a TTL of [`LOCK_TTL_SECS`]; uncontended without a wait, contended with
//!   `wait_timeout_seconds`, so the server queues the waiter and grants it when the holder releases. A grant must
//!   answer 201; its `lock_id` is kept for the release.
//! - release: `DELETE /api/v1/locks/{key}` with `{lock_id, owner}`.
//! - keepalive: `grant_lease` and a keepalive stream (`lease_keepalives`, one WebSocket, through the SDK
//!   `baton-client`) once per client, then one keepalive per iteration on that stream, as etcd's client uses its
//!   `LeaseKeepAlive` stream; the stream is closed and the lease revoked at the end.
//!
//! Acquires and releases go through [`HttpClient`]: by default (`--http raw`) the client's own task writes the
//! request and reads the answer on one keep-alive connection, so the load generator takes as little of the 2
//! cores the server shares with it as it can; `--http reqwest` measures them through a reqwest pool, as the SDK
//! sends them. The same code measures every Baton backend; run-locks.sh labels the runs `baton-sqlite` and
//! `baton-postgres`.
//!
//! Given several URLs (nodes of one cluster), clients connect to them in turn, so half of 2 clients' hand-offs in
//! `contended` go from one node to the other: run-locks.sh's `baton-postgres-2nodes` measures the cross-node
//! wake-up that way.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use baton_client::{BatonClient, LeaseKeepalives};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::http1::{HttpClient, HttpKind, describe_failure, path_segment};
use crate::target::{LEASE_TTL_SECS, LOCK_TTL_SECS, Scenario, Target, TargetClient, Wait};

/// One Baton server, e.g. `http://127.0.0.1:18080`, or the nodes of one cluster.
pub struct Baton {
    urls: Vec<String>,
    /// How acquires and releases are sent.
    http: HttpKind,
    /// How many clients have connected: the next one takes `urls[connected % urls.len()]`.
    connected: AtomicUsize,
}

impl Baton {
    /// `urls` must not be empty.
    pub fn new(urls: Vec<String>, http: HttpKind) -> Self {
        assert!(!urls.is_empty(), "a Baton target needs a URL");
        Self { urls, http, connected: AtomicUsize::new(0) }
    }
}

pub struct BatonTargetClient {
    /// Leases and their keepalive stream.
    client: BatonClient,
    /// Acquires and releases.
    http: HttpClient,
    owner: String,
}

/// A client's lease and the keepalive stream it keeps it alive on.
pub struct BatonLease {
    lease_id: String,
    stream: LeaseKeepalives,
}

/// The part of a grant the benchmark needs.
#[derive(Deserialize)]
struct Grant {
    lock_id: String,
}

impl Target for Baton {
    type Client = BatonTargetClient;

    async fn connect(&self, owner: String) -> Result<BatonTargetClient> {
        let url = &self.urls[self.connected.fetch_add(1, Ordering::Relaxed) % self.urls.len()];
        let client = BatonClient::new(url).with_context(|| format!("baton client for {url}"))?;
        let http = HttpClient::connect(self.http, url).await?;
        Ok(BatonTargetClient { client, http, owner })
    }

    /// Says so when acquires and releases do not go over the default raw driver.
    fn note(&self, scenario: Scenario) -> Option<&'static str> {
        match (scenario, self.http) {
            (Scenario::Keepalive, _) | (_, HttpKind::Raw) => None,
            (_, HttpKind::Hyper) => Some("baton acquires and releases over a hyper HTTP/1.1 connection per client"),
            (_, HttpKind::Reqwest) => Some("baton acquires and releases through a reqwest pool per client, as the SDK"),
        }
    }
}

impl TargetClient for BatonTargetClient {
    /// The granted lock id.
    type Held = String;
    type Lease = BatonLease;

    async fn acquire(&mut self, key: &str, wait: Wait) -> Result<String> {
        let mut request = json!({"key": key, "owner": self.owner, "ttl_seconds": LOCK_TTL_SECS});
        if let Wait::UpTo(secs) = wait {
            request["wait_timeout_seconds"] = json!(secs);
        }
        let body = Bytes::from(serde_json::to_vec(&request)?);
        let (status, answer) = self.http.request(Method::POST, "/api/v1/locks", Some(body)).await?;
        if status != StatusCode::CREATED {
            bail!(describe_failure("POST /api/v1/locks", "locks", status, &answer));
        }
        let grant: Grant = serde_json::from_slice(&answer)
            .with_context(|| format!("unexpected grant: {}", String::from_utf8_lossy(&answer)))?;
        Ok(grant.lock_id)
    }

    async fn release(&mut self, key: &str, lock_id: String) -> Result<()> {
        let path = format!("/api/v1/locks/{}", path_segment(key));
        let body = Bytes::from(serde_json::to_vec(&json!({"lock_id": lock_id, "owner": self.owner}))?);
        let (status, answer) = self.http.request(Method::DELETE, &path, Some(body)).await?;
        if !status.is_success() {
            bail!(describe_failure(&format!("DELETE {path}"), "locks", status, &answer));
        }
        Ok(())
    }

    async fn grant_lease(&mut self) -> Result<BatonLease> {
        let lease = self.client.grant_lease(LEASE_TTL_SECS as _).await.context("baton grant_lease")?;
        let stream = self.client.lease_keepalives().await.context("baton keepalive stream")?;
        Ok(BatonLease { lease_id: lease.lease_id, stream })
    }

    async fn keepalive(&mut self, lease: &mut BatonLease) -> Result<()> {
        lease.stream.keepalive(&lease.lease_id).await.context("baton keepalive on the stream")?;
        Ok(())
    }

    async fn revoke_lease(&mut self, lease: BatonLease) -> Result<()> {
        lease.stream.close().await.context("close the keepalive stream")?;
        self.client.revoke_lease(&lease.lease_id).await.context("baton revoke_lease")?;
        Ok(())
    }

    async fn close(self) -> Result<()> {
        Ok(())
    }
}
