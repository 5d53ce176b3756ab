//! The discovery reaper: records TTL instances whose heartbeat is overdue as critical (so watchers hear of it)
//! and removes instances that stayed critical beyond their `deregister_after`. It decides nothing itself: the
//! store does, by its clock, under each service's lock, so every node of a cluster may run one.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

#[derive(Clone, Debug)]
pub struct DiscoveryReaperOptions {
    /// How often it looks: the longest a lapse goes unannounced (readers see it at once regardless).
    pub every: Duration,
    pub services_per_pass: u32,
}

impl Default for DiscoveryReaperOptions {
    fn default() -> Self {
        Self { every: Duration::from_millis(500), services_per_pass: 100 }
    }
}

pub struct DiscoveryReaper {
    store: Arc<dyn Store>,
    options: DiscoveryReaperOptions,
}

impl DiscoveryReaper {
    pub fn new(store: Arc<dyn Store>, options: DiscoveryReaperOptions) -> Self {
        Self { store, options }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.store.sweep_instances(self.options.services_per_pass).await {
                Ok(report) => {
                    metrics::counter!("baton_discovery_lapsed_total").increment(report.lapsed);
                    metrics::counter!("baton_discovery_deregistered_total").increment(report.deregistered);
                    // A full pass means more may wait: go again at once.
                    if report.services >= u64::from(self.options.services_per_pass) {
                        Duration::ZERO
                    } else {
                        self.options.every
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "sweeping service instances failed; retrying");
                    self.options.every
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
