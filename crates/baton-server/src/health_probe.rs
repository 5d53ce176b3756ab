//! The health prober: runs the registered HTTP and TCP checks at their intervals, each within its timeout, and
//! records every result through the discovery service.
//!
//! Only the node holding the prober seat (`baton_core::discovery::prober`) probes, so a cluster of any size
//! runs each check once per interval; the others wait in line for the seat and take over when its holder stops
//! renewing. It deliberately decides no health itself: the store does, from the results it records.

use std::sync::Arc;
use std::time::Duration;

use baton_core::discovery::prober::{ProberSeat, ProberTerm};
use baton_core::discovery::{CheckOutcome, DiscoveryService, DueCheck, HealthCheck};
use baton_core::error::Error;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long a prober's seat lasts without renewal: the longest checks go unrun after the prober dies.
pub const PROBER_SEAT_TTL: Duration = Duration::from_secs(10);
/// How long a standby waits in line for the seat before it asks again.
const CAMPAIGN_WAIT: Duration = Duration::from_secs(30);
/// The longest the prober sleeps without looking for due checks (registrations wake it sooner).
const MAX_IDLE: Duration = Duration::from_secs(1);
/// Checks handed out per look.
const BATCH: u32 = 64;
/// Check output kept, in characters.
const MAX_OUTPUT: usize = 500;

pub struct HealthProber {
    discovery: DiscoveryService,
    seat: ProberSeat,
    http: reqwest::Client,
}

impl HealthProber {
    pub fn new(discovery: DiscoveryService, seat: ProberSeat) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(format!("baton-health-check/{}", seat.node()))
            .pool_max_idle_per_host(4)
            .build()?;
        Ok(Self { discovery, seat, http })
    }

    /// Campaigns for the seat, probes while it holds it, and campaigns again when it is lost, until shutdown
    /// (when it gives the seat up, so a standby takes over at once).
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let taken = tokio::select! {
                () = shutdown.cancelled() => return,
                taken = self.seat.take(CAMPAIGN_WAIT) => taken,
            };
            match taken {
                Ok(Some(term)) => {
                    tracing::info!(node = self.seat.node(), term = term.term.0, "this node runs the health checks");
                    self.lead(&term, &shutdown).await;
                    if shutdown.is_cancelled() {
                        self.seat.give_up(&term).await;
                        return;
                    }
                    tracing::warn!(node = self.seat.node(), "lost the prober seat; campaigning again");
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "campaigning for the prober seat failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(MAX_IDLE) => {}
                    }
                }
            }
        }
    }

    /// Probes until the seat is lost or shutdown.
    async fn lead(&self, term: &ProberTerm, shutdown: &CancellationToken) {
        let lost = CancellationToken::new();
        tokio::select! {
            () = self.keep_seat(term, &lost) => {}
            () = self.probe(&lost, shutdown) => {}
        }
    }

    /// Renews the seat every third of its TTL; it is lost when a renewal is refused, or when none succeeds
    /// within the TTL.
    async fn keep_seat(&self, term: &ProberTerm, lost: &CancellationToken) {
        let ttl = self.seat.ttl();
        let mut valid_until = tokio::time::Instant::now() + ttl;
        loop {
            tokio::time::sleep(ttl / 3).await;
            let sent_at = tokio::time::Instant::now();
            match self.seat.keep(term).await {
                Ok(()) => valid_until = sent_at + ttl,
                Err(error @ (Error::LockNotHeld { .. } | Error::LockOwnerMismatch { .. })) => {
                    tracing::warn!(%error, "the prober seat's renewal was refused");
                    break;
                }
                Err(error) if tokio::time::Instant::now() + ttl / 3 < valid_until => {
                    tracing::debug!(%error, "renewing the prober seat failed; retrying");
                }
                Err(error) => {
                    tracing::warn!(%error, "no renewal of the prober seat succeeded in time");
                    break;
                }
            }
        }
        lost.cancel();
    }

    async fn probe(&self, lost: &CancellationToken, shutdown: &CancellationToken) {
        let mut running = JoinSet::new();
        let changed = self.discovery.any_change();
        loop {
            while running.try_join_next().is_some() {}
            let woken = changed.notified();
            tokio::pin!(woken);
            // Enabled before the look, so a registration committed right after it still wakes us.
            woken.as_mut().enable();
            let pause = match self.discovery.claim_checks(BATCH).await {
                Ok(due) => {
                    let full = due.checks.len() >= BATCH as usize;
                    for check in due.checks {
                        let (http, discovery, node) =
                            (self.http.clone(), self.discovery.clone(), self.seat.node().to_owned());
                        running.spawn(async move { run_and_record(&http, &discovery, check, node).await });
                    }
                    let next = due.next_due_in_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
                    if full { Duration::ZERO } else { next.map_or(MAX_IDLE, |next| next.min(MAX_IDLE)) }
                }
                Err(error) => {
                    tracing::warn!(%error, "looking for due health checks failed; retrying");
                    MAX_IDLE
                }
            };
            tokio::select! {
                () = lost.cancelled() => break,
                () = shutdown.cancelled() => break,
                () = &mut woken => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        // Results of checks still running would be recorded by a node that no longer holds the seat.
        running.abort_all();
    }
}

async fn run_and_record(http: &reqwest::Client, discovery: &DiscoveryService, due: DueCheck, node: String) {
    let (passing, output) = run_check(http, &due.check).await;
    let outcome = CheckOutcome { key: due.key, check: due.check, passing, output: clip(output), checked_by: node };
    if let Err(error) = discovery.record_check(outcome).await {
        tracing::warn!(%error, "recording a health check result failed; the check runs again after its interval");
    }
}

fn clip(mut output: String) -> String {
    if let Some((cut, _)) = output.char_indices().nth(MAX_OUTPUT) {
        output.truncate(cut);
    }
    output
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Runs one check: an HTTP check passes on a 2xx answer, a TCP check when the connection opens, each within
/// its timeout. Returns whether it passed and what it saw.
pub async fn run_check(http: &reqwest::Client, check: &HealthCheck) -> (bool, String) {
    match check {
        HealthCheck::Ttl { .. } => (false, "a TTL instance is not probed".to_owned()),
        HealthCheck::Http { url, method, timeout_ms, .. } => {
            let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
                return (false, format!("{method} is not an HTTP method"));
            };
            match http.request(method.clone(), url).timeout(millis(*timeout_ms)).send().await {
                Ok(response) => {
                    let status = response.status();
                    (status.is_success(), format!("HTTP {method} {url}: {status}"))
                }
                Err(error) if error.is_timeout() => {
                    (false, format!("HTTP {method} {url}: no answer within {} ms", timeout_ms))
                }
                Err(error) => (false, format!("HTTP {method} {url}: {}", error_chain(&error))),
            }
        }
        HealthCheck::Tcp { address, timeout_ms, .. } => {
            match tokio::time::timeout(millis(*timeout_ms), tokio::net::TcpStream::connect(address.as_str())).await {
                Ok(Ok(_)) => (true, format!("TCP connect {address}: success")),
                Ok(Err(error)) => (false, format!("TCP connect {address}: {error}")),
                Err(_) => (false, format!("TCP connect {address}: no connection within {timeout_ms} ms")),
            }
        }
    }
}

/// An error with its causes ("error sending request: connection refused"), as reqwest's own text omits them.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The seat a node named `node` campaigns for, with the prober's TTL.
pub fn seat(
    locks: baton_core::lock::LockService,
    store: Arc<dyn baton_core::store::Store>,
    node: String,
) -> ProberSeat {
    ProberSeat::new(locks, store, node, PROBER_SEAT_TTL)
}
