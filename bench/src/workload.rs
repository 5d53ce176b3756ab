//! The three lock workloads, written once against [`Target`], so every system sees the same shape.
//!
//! Common rules: all clients connect (and, for `keepalive`, grant their lease) before the clock starts. The
//! measurement window is `[start, start + duration]`. An operation counts, and its latency is kept, only if it
//! completes inside the window; `ops_per_sec = counted ops / duration`. Clients stop starting new operations at the
//! end of the window, finish (and release) what they are doing, and must all be done within a grace period, or the
//! measurement fails: every run is bounded in time.
//!
//! - `uncontended`: each client loops `acquire(own key) + release` on a key no one else touches. One op = one
//!   pair; latency = the pair's round trip.
//! - `contended`: every client loops a blocking acquire of ONE shared key, then releases at once (empty critical
//!   section). One op = one hand-off (one successful acquire); latency = the acquire's wait, from sending the
//!   acquire to having the grant, which includes queueing behind the other holders. With C clients and a fair
//!   queue that wait is about C-1 hold times, so compare it across targets at the same C, not to `uncontended`.
//!   Also counted: how many of those acquisitions went to a different client than the previous one
//!   (`holder_changes_per_sec`). A fair queue hands over every time; a spin lets the releaser win again.
//!   And the hand-off latency (`handoff_p50_ms`, `handoff_p99_ms`): from the moment a holder sends its release
//!   to the moment a *different* client has the grant in hand.
//! - `keepalive`: each client loops one keepalive of its own lease. One op = one keepalive; latency = its round trip.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::task::JoinSet;

use crate::report::Measurement;
use crate::target::{Scenario, Target, TargetClient, Wait};

/// What one run needs to know.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub scenario: Scenario,
    pub clients: usize,
    pub duration: Duration,
    /// Unique per process: keeps keys of different runs apart (a lock left by an aborted run cannot interfere).
    pub run_id: String,
    /// How long the contended acquire may block before the target gives up.
    pub wait_secs: u64,
}

impl RunSpec {
    /// Extra time after the window for clients to finish; beyond it the run fails.
    fn grace(&self) -> Duration {
        Duration::from_secs(self.wait_secs + 10)
    }
}

/// Runs one measurement of `spec.scenario` against `target`.
pub async fn run<T: Target>(target: Arc<T>, spec: RunSpec, label: &str) -> Result<Measurement> {
    // Connect every client (and grant keepalive leases) before the clock starts.
    let mut setup = JoinSet::new();
    for idx in 0..spec.clients {
        let target = target.clone();
        let owner = format!("bench-{}-{idx}", spec.run_id);
        let scenario = spec.scenario;
        setup.spawn(async move {
            let mut client = target.connect(owner).await?;
            let lease = match scenario {
                Scenario::Keepalive => Some(client.grant_lease().await.context("grant lease")?),
                _ => None,
            };
            anyhow::Ok((idx, client, lease))
        });
    }
    let mut ready = Vec::with_capacity(spec.clients);
    while let Some(joined) = setup.join_next().await {
        ready.push(joined.context("setup task panicked")?.context("client setup")?);
    }

    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut tasks = JoinSet::new();
    let last_holder = Arc::new(LastHolder::new(start));
    for (idx, client, lease) in ready {
        let spec = spec.clone();
        let last_holder = last_holder.clone();
        tasks.spawn(async move { client_loop(client, lease, idx, &spec, deadline, &last_holder).await });
    }

    let mut latencies = Vec::new();
    let mut holder_changes = 0;
    let mut handoffs = Vec::new();
    let drain_until = deadline + spec.grace();
    loop {
        let next = tokio::time::timeout_at(drain_until.into(), tasks.join_next()).await;
        match next {
            Ok(None) => break,
            Ok(Some(joined)) => {
                let (mine, changes, mine_handoffs) = joined.context("client task panicked")??;
                latencies.extend(mine);
                holder_changes += changes;
                handoffs.extend(mine_handoffs);
            }
            Err(_) => {
                tasks.abort_all();
                bail!("{} clients still busy {:?} after the window closed; run aborted", tasks.len(), spec.grace());
            }
        }
    }

    let mut measurement =
        Measurement::new(label, spec.scenario, spec.clients, spec.duration, latencies, target.note(spec.scenario));
    if spec.scenario == Scenario::Contended {
        measurement.holder_changes_per_sec = Some(holder_changes as f64 / spec.duration.as_secs_f64());
        measurement.set_handoffs(handoffs);
    }
    Ok(measurement)
}

/// Who held the contended key last, and when a holder last started releasing it (nanoseconds after `base`).
struct LastHolder {
    base: Instant,
    client: AtomicUsize,
    release_sent_ns: AtomicU64,
}

impl LastHolder {
    fn new(base: Instant) -> Self {
        Self { base, client: AtomicUsize::new(usize::MAX), release_sent_ns: AtomicU64::new(0) }
    }

    fn mark_release(&self) {
        self.release_sent_ns.store(self.base.elapsed().as_nanos() as u64, Ordering::SeqCst);
    }

    /// Records `idx` as the holder at `granted`; returns the previous holder and the hand-off latency when
    /// the grant went to a different client.
    fn take_over(&self, idx: usize, granted: Instant) -> (usize, Option<Duration>) {
        let previous = self.client.swap(idx, Ordering::SeqCst);
        let sent = Duration::from_nanos(self.release_sent_ns.load(Ordering::SeqCst));
        let handoff =
            (previous != idx && previous != usize::MAX).then(|| granted.duration_since(self.base).saturating_sub(sent));
        (previous, handoff)
    }
}

/// One client's loop. Returns the latencies of its operations that completed inside the window and, for
/// `contended`, how many of its acquisitions inside the window followed another client's, with those
/// hand-offs' latencies.
async fn client_loop<C: TargetClient>(
    mut client: C,
    lease: Option<C::Lease>,
    idx: usize,
    spec: &RunSpec,
    deadline: Instant,
    last_holder: &LastHolder,
) -> Result<(Vec<Duration>, usize, Vec<Duration>)> {
    let mut latencies = Vec::with_capacity(4096);
    let mut holder_changes = 0;
    let mut handoffs = Vec::new();
    let mut record = |t0: Instant, t1: Instant| {
        if t1 <= deadline {
            latencies.push(t1 - t0);
        }
    };
    match spec.scenario {
        Scenario::Uncontended => {
            let key = format!("bench/{}/uncontended/{idx}", spec.run_id);
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let held = client.acquire(&key, Wait::No).await.context("acquire")?;
                client.release(&key, held).await.context("release")?;
                record(t0, Instant::now());
            }
        }
        Scenario::Contended => {
            let key = format!("bench/{}/contended", spec.run_id);
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let held = client.acquire(&key, Wait::UpTo(spec.wait_secs)).await.context("blocking acquire")?;
                let t1 = Instant::now();
                let (previous, handoff) = last_holder.take_over(idx, t1);
                if t1 <= deadline && previous != idx {
                    holder_changes += 1;
                    handoffs.extend(handoff);
                }
                record(t0, t1);
                last_holder.mark_release();
                client.release(&key, held).await.context("release")?;
            }
        }
        Scenario::Keepalive => {
            let mut lease = lease.context("keepalive client has no lease")?;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                client.keepalive(&mut lease).await.context("keepalive")?;
                record(t0, Instant::now());
            }
            client.revoke_lease(lease).await.context("revoke lease")?;
        }
    }
    client.close().await.context("close client")?;
    Ok((latencies, holder_changes, handoffs))
}
