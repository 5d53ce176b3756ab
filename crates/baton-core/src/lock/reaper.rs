//! The expiry reaper: a background duty that removes lapsed holders, leases and waiters and grants the
//! waiters they free, so a lapse hands the lock on promptly even when nobody else touches the key.
//!
//! It does not decide expiry: the store does, by its clock, inside the same transaction that acts on it. It
//! is idempotent, so every node of a cluster runs one.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

#[derive(Clone, Debug)]
pub struct ReaperOptions {
    /// The longest the reaper sleeps without a known deadline: the safety net for lapses scheduled by another
    /// node.
    pub max_idle: Duration,
    /// How many keys one pass settles before it yields.
    pub keys_per_pass: u32,
}

impl Default for ReaperOptions {
    fn default() -> Self {
        Self { max_idle: Duration::from_secs(1), keys_per_pass: 500 }
    }
}

/// A cheap handle that asks the reaper to recompute its next deadline now, for instance because a caller just
/// queued behind a holder whose TTL will lapse.
#[derive(Clone, Debug, Default)]
pub struct ReaperHandle {
    poke: Arc<Notify>,
}

impl ReaperHandle {
    pub fn poke(&self) {
        self.poke.notify_one();
    }
}

pub struct ExpiryReaper {
    store: Arc<dyn Store>,
    options: ReaperOptions,
    handle: ReaperHandle,
}

impl ExpiryReaper {
    pub fn new(store: Arc<dyn Store>, options: ReaperOptions) -> Self {
        Self { store, options, handle: ReaperHandle::default() }
    }

    pub fn handle(&self) -> ReaperHandle {
        self.handle.clone()
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.store.expire_due(self.options.keys_per_pass).await {
                Ok(report) if report.keys_processed as u32 >= self.options.keys_per_pass => Duration::ZERO,
                Ok(report) => report
                    .next_due_in_ms
                    .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                    .map_or(self.options.max_idle, |due| due.min(self.options.max_idle)),
                Err(error) => {
                    tracing::warn!(%error, "expiry pass failed; retrying");
                    self.options.max_idle
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.handle.poke.notified() => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
