//! The claims scenarios against one Baton server, over its HTTP claims API.
//!
//! Every measurement claims in a namespace of its own (`bench-<run id>`), so items done by one measurement
//! never meet the next. A claim must answer 201 and a done 200; anything else (a 409 `CLAIM_HELD` or
//! `CLAIM_DONE` would mean two workers met on one item) ends the measurement. The claim answer is parsed for
//! its `claim_id`, which the done needs; the done answer is only read.
//!
//! After the window, a `claim` worker discards the claims it still holds, as an etcd worker revokes its lease:
//! left to lapse, they would be removed 30 s later, inside another measurement's window.

use anyhow::{Context, Result, bail};
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{CLAIM_TTL_SECS, ClaimScenario, ClaimsSpec};
use crate::closed_loop::Worker;
use crate::http1::{HttpClient, HttpKind, describe_failure};

/// Opens one connection per worker, before the clock starts.
pub async fn connect(spec: &ClaimsSpec, url: &str, clients: usize, http: HttpKind) -> Result<Vec<BatonClaimer>> {
    let namespace = format!("bench-{}", spec.run_id);
    let mut workers = Vec::with_capacity(clients);
    for idx in 0..clients {
        let owner = spec.owner(idx);
        workers.push(BatonClaimer {
            http: HttpClient::connect(http, url).await?,
            scenario: spec.scenario,
            prefix: format!("/api/v1/claims/{namespace}/"),
            claim_body: Bytes::from(serde_json::to_vec(&json!({"owner": owner, "ttl_seconds": CLAIM_TTL_SECS}))?),
            owner,
            idx,
            held: Vec::new(),
        });
    }
    Ok(workers)
}

/// The part of a claim answer the benchmark needs: the id for the done, and a fencing token (required, so an
/// answer without one fails the measurement; its value is the server's business).
#[derive(Deserialize)]
struct ClaimAnswer {
    claim_id: String,
    #[serde(rename = "fencing_token")]
    _fencing_token: i64,
}

pub struct BatonClaimer {
    http: HttpClient,
    scenario: ClaimScenario,
    /// `/api/v1/claims/{namespace}/`.
    prefix: String,
    claim_body: Bytes,
    owner: String,
    idx: usize,
    /// The `claim` scenario's claims, as (item path, claim id), to discard after the window.
    held: Vec<(String, String)>,
}

impl BatonClaimer {
    /// Ends the claim on `path` (`done` or `discard`), which must answer 200.
    async fn finish(&mut self, path: &str, action: &str, claim_id: &str) -> Result<()> {
        let url = format!("{path}/{action}");
        let body = Bytes::from(serde_json::to_vec(&json!({"claim_id": claim_id, "owner": self.owner}))?);
        let (status, answer) = self.http.request(Method::POST, &url, Some(body)).await?;
        if status != StatusCode::OK {
            bail!(describe_failure(&format!("POST {url}"), "claims", status, &answer));
        }
        Ok(())
    }
}

impl Worker for BatonClaimer {
    async fn op(&mut self, n: u64) -> Result<()> {
        let path = format!("{}{}", self.prefix, ClaimsSpec::item(self.idx, n));
        let (status, answer) = self.http.request(Method::POST, &path, Some(self.claim_body.clone())).await?;
        if status != StatusCode::CREATED {
            bail!(describe_failure(&format!("POST {path}"), "claims", status, &answer));
        }
        let claim: ClaimAnswer = serde_json::from_slice(&answer)
            .with_context(|| format!("unexpected answer to POST {path}: {}", String::from_utf8_lossy(&answer)))?;
        if self.scenario == ClaimScenario::Claim {
            self.held.push((path, claim.claim_id));
            return Ok(());
        }
        self.finish(&path, "done", &claim.claim_id).await
    }

    async fn close(mut self) -> Result<()> {
        for (path, claim_id) in std::mem::take(&mut self.held) {
            self.finish(&path, "discard", &claim_id).await?;
        }
        Ok(())
    }
}
