//! Claims and leader election through the REST API, with guards that keep a claim or leadership alive in the
//! background and say when it is lost (as [`crate::LockGuard`] does for locks).

use std::time::Duration;

use baton_api::claim::{
    ClaimList, ClaimRequest, ClaimStatusView, ClaimView, DiscardClaimRequest, DoneClaimRequest, NextClaimRequest,
    RenewClaimRequest,
};
use baton_api::election::{CampaignRequest, ElectionView, LeaderRequest, LeadershipView, ProclaimRequest};
use eventsource_stream::Eventsource as _;
use futures::{Stream, StreamExt as _};
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::WaitForCancellationFuture;

use crate::keeper::{Kept, granted_at, keep_alive};
use crate::{BatonClient, ClientError};

/// Headroom on top of a server-side wait, so the HTTP timeout never fires first.
const WAIT_HEADROOM: Duration = Duration::from_secs(30);

/// Filters for [`BatonClient::list_claims`].
#[derive(Clone, Debug, Default)]
pub struct ListClaims {
    /// `held` or `done`; both when `None`.
    pub state: Option<String>,
    pub owner: Option<String>,
    pub prefix: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

impl BatonClient {
    pub async fn claim(
        &self,
        namespace: &str,
        resource: &str,
        request: &ClaimRequest,
    ) -> Result<ClaimView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "claims", namespace, resource]).json(request)).await
    }

    pub async fn claim_next(&self, namespace: &str, request: &NextClaimRequest) -> Result<ClaimView, ClientError> {
        self.send(self.request(Method::POST, &["api", "v1", "claims", namespace, "next"]).json(request)).await
    }

    pub async fn renew_claim(
        &self,
        namespace: &str,
        resource: &str,
        claim_id: &str,
        owner: &str,
    ) -> Result<ClaimView, ClientError> {
        let body = RenewClaimRequest { claim_id: claim_id.into(), owner: owner.into(), ttl_seconds: None };
        self.send(self.request(Method::POST, &["api", "v1", "claims", namespace, resource, "renew"]).json(&body)).await
    }

    pub async fn done_claim(
        &self,
        namespace: &str,
        resource: &str,
        claim_id: &str,
        owner: &str,
        metadata: Option<Value>,
    ) -> Result<ClaimView, ClientError> {
        let body = DoneClaimRequest { claim_id: claim_id.into(), owner: owner.into(), metadata };
        self.send(self.request(Method::POST, &["api", "v1", "claims", namespace, resource, "done"]).json(&body)).await
    }

    pub async fn discard_claim(
        &self,
        namespace: &str,
        resource: &str,
        claim_id: &str,
        owner: &str,
    ) -> Result<ClaimView, ClientError> {
        let body = DiscardClaimRequest { claim_id: claim_id.into(), owner: owner.into() };
        self.send(self.request(Method::POST, &["api", "v1", "claims", namespace, resource, "discard"]).json(&body))
            .await
    }

    pub async fn claim_status(&self, namespace: &str, resource: &str) -> Result<ClaimStatusView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "claims", namespace, resource])).await
    }

    pub async fn list_claims(&self, namespace: &str, filter: &ListClaims) -> Result<ClaimList, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(filter.state.clone().map(|v| ("state", v)));
        query.extend(filter.owner.clone().map(|v| ("owner", v)));
        query.extend(filter.prefix.clone().map(|v| ("prefix", v)));
        query.extend(filter.cursor.clone().map(|v| ("cursor", v)));
        query.extend(filter.limit.map(|v| ("limit", v.to_string())));
        self.send(self.request(Method::GET, &["api", "v1", "claims", namespace]).query(&query)).await
    }

    /// Claims a resource and keeps the claim alive until the guard is done, discarded or dropped.
    pub async fn hold_claim(
        &self,
        namespace: &str,
        resource: &str,
        request: &ClaimRequest,
    ) -> Result<ClaimGuard, ClientError> {
        let requested_at = tokio::time::Instant::now();
        let claim = self.claim(namespace, resource, request).await?;
        let renew = {
            let (client, claim) = (self.clone(), claim.clone());
            move || {
                let (client, claim) = (client.clone(), claim.clone());
                async move {
                    client
                        .renew_claim(&claim.namespace, &claim.resource, &claim.claim_id, &claim.owner)
                        .await
                        .map(|_| ())
                }
            }
        };
        let ttl = Duration::from_secs(request.ttl_seconds.max(1) as u64);
        let kept = keep_alive(ttl, requested_at, format!("claim {resource}"), renew);
        Ok(ClaimGuard { client: self.clone(), claim, kept, finished: false })
    }

    pub async fn campaign(&self, name: &str, request: &CampaignRequest) -> Result<LeadershipView, ClientError> {
        let wait = request
            .wait_timeout_ms
            .map(|ms| Duration::from_millis(ms.max(0) as u64))
            .or(request.wait_timeout_seconds.map(|s| Duration::from_secs(s.max(0) as u64)))
            .unwrap_or_default();
        let builder = self.request(Method::POST, &["api", "v1", "elections", name, "campaign"]).json(request);
        self.send(builder.timeout(wait + WAIT_HEADROOM)).await
    }

    pub async fn proclaim(
        &self,
        name: &str,
        leadership_id: &str,
        candidate: &str,
        value: Option<Value>,
    ) -> Result<LeadershipView, ClientError> {
        let body = ProclaimRequest { leadership_id: leadership_id.into(), candidate: candidate.into(), value };
        self.send(self.request(Method::POST, &["api", "v1", "elections", name, "proclaim"]).json(&body)).await
    }

    pub async fn renew_leadership(
        &self,
        name: &str,
        leadership_id: &str,
        candidate: &str,
    ) -> Result<LeadershipView, ClientError> {
        let body =
            LeaderRequest { leadership_id: leadership_id.into(), candidate: candidate.into(), ttl_seconds: None };
        self.send(self.request(Method::POST, &["api", "v1", "elections", name, "renew"]).json(&body)).await
    }

    pub async fn resign(&self, name: &str, leadership_id: &str, candidate: &str) -> Result<(), ClientError> {
        let body =
            LeaderRequest { leadership_id: leadership_id.into(), candidate: candidate.into(), ttl_seconds: None };
        let _: Value =
            self.send(self.request(Method::POST, &["api", "v1", "elections", name, "resign"]).json(&body)).await?;
        Ok(())
    }

    pub async fn election(&self, name: &str) -> Result<ElectionView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "elections", name])).await
    }

    /// The election now, then at every change of leader or value (Server-Sent Events).
    pub async fn observe_election(
        &self,
        name: &str,
    ) -> Result<impl Stream<Item = Result<ElectionView, ClientError>> + Send + use<>, ClientError> {
        let builder = self.request(Method::GET, &["api", "v1", "elections", name, "observe"]);
        let response = self.open(builder.header("accept", "text/event-stream")).await?;
        Ok(response.bytes_stream().eventsource().filter_map(|event| async move {
            match event {
                Err(error) => Some(Err(ClientError::Stream(error.to_string()))),
                Ok(event) if event.event == "message" => Some(
                    serde_json::from_str(&event.data)
                        .map_err(|_| ClientError::Stream(format!("not an election: {}", event.data))),
                ),
                Ok(event) if event.event == "error" => Some(Err(ClientError::Stream(event.data))),
                Ok(_) => None,
            }
        }))
    }

    /// Campaigns (waiting in line up to `request`'s wait) and keeps leadership alive until the guard resigns or is
    /// dropped.
    pub async fn lead(&self, name: &str, request: &CampaignRequest) -> Result<Leadership, ClientError> {
        let requested_at = tokio::time::Instant::now();
        let leadership = self.campaign(name, request).await?;
        let renew = {
            let (client, leadership) = (self.clone(), leadership.clone());
            move || {
                let (client, leadership) = (client.clone(), leadership.clone());
                async move {
                    client
                        .renew_leadership(&leadership.name, &leadership.leadership_id, &leadership.candidate)
                        .await
                        .map(|_| ())
                }
            }
        };
        let ttl = Duration::from_secs(request.ttl_seconds.max(1) as u64);
        let waited = request.wait_timeout_ms.is_some() || request.wait_timeout_seconds.is_some();
        let kept = keep_alive(ttl, granted_at(requested_at, waited), format!("leadership of {name}"), renew);
        Ok(Leadership { client: self.clone(), leadership, kept, resigned: false })
    }
}

/// A held claim that renews itself. Finish it with [`ClaimGuard::done`] or [`ClaimGuard::discard`]; dropping it
/// discards.
pub struct ClaimGuard {
    client: BatonClient,
    claim: ClaimView,
    kept: Kept,
    finished: bool,
}

impl ClaimGuard {
    pub fn claim(&self) -> &ClaimView {
        &self.claim
    }

    /// Completes when the claim is lost.
    pub fn lost(&self) -> WaitForCancellationFuture<'_> {
        self.kept.lost.cancelled()
    }

    pub async fn done(mut self, metadata: Option<Value>) -> Result<ClaimView, ClientError> {
        self.finished = true;
        self.kept.stop.cancel();
        let claim = &self.claim;
        self.client.done_claim(&claim.namespace, &claim.resource, &claim.claim_id, &claim.owner, metadata).await
    }

    pub async fn discard(mut self) -> Result<ClaimView, ClientError> {
        self.finished = true;
        self.kept.stop.cancel();
        let claim = &self.claim;
        self.client.discard_claim(&claim.namespace, &claim.resource, &claim.claim_id, &claim.owner).await
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        self.kept.stop.cancel();
        if self.finished {
            return;
        }
        let (client, claim) = (self.client.clone(), self.claim.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.discard_claim(&claim.namespace, &claim.resource, &claim.claim_id, &claim.owner).await;
            });
        }
    }
}

/// Leadership that renews itself; it resigns when dropped.
pub struct Leadership {
    client: BatonClient,
    leadership: LeadershipView,
    kept: Kept,
    resigned: bool,
}

impl Leadership {
    pub fn view(&self) -> &LeadershipView {
        &self.leadership
    }

    /// The term: strictly increasing per election, for fencing the leader's writes.
    pub fn term(&self) -> i64 {
        self.leadership.term
    }

    /// Completes when leadership is lost.
    pub fn lost(&self) -> WaitForCancellationFuture<'_> {
        self.kept.lost.cancelled()
    }

    pub async fn resign(mut self) -> Result<(), ClientError> {
        self.resigned = true;
        self.kept.stop.cancel();
        let view = &self.leadership;
        self.client.resign(&view.name, &view.leadership_id, &view.candidate).await
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.kept.stop.cancel();
        if self.resigned {
            return;
        }
        let (client, view) = (self.client.clone(), self.leadership.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = client.resign(&view.name, &view.leadership_id, &view.candidate).await;
            });
        }
    }
}
