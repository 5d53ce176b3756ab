//! The expiry reaper: a background duty that removes lapsed holders, leases and waiters and grants the
//! waiters they free, so a lapse hands the lock on promptly even when nobody else touches the key.
//!
//! It does not decide expiry: the store does, by its clock, inside the same transaction that acts on it. It
//! is idempotent, so every node of a cluster runs one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A cheap handle that asks the reaper for a pass by a given instant, for instance because a caller just
/// queued behind a holder whose TTL lapses then. Asking costs no store call: the reaper only moves its alarm.
#[derive(Clone, Debug, Default)]
pub struct ReaperHandle {
    shared: Arc<Alarm>,
}

#[derive(Debug, Default)]
struct Alarm {
    poke: Notify,
    /// The earliest pass asked for since the current or last pass began.
    asked: Mutex<Option<Instant>>,
}

impl Alarm {
    fn asked(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // A panic while holding it cannot leave an `Option<Instant>` half-written.
        self.asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ReaperHandle {
    /// Asks for a pass no later than `at`.
    pub fn pass_by(&self, at: Instant) {
        let mut asked = self.shared.asked();
        if asked.is_none_or(|earliest| at < earliest) {
            *asked = Some(at);
            drop(asked);
            self.shared.poke.notify_one();
        }
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
        let alarm = &self.handle.shared;
        loop {
            // This pass reads every deadline stored so far, so it answers whatever was asked before it began.
            alarm.asked().take();
            let pause = match self.store.expire_due(self.options.keys_per_pass).await {
                Ok(report) if report.keys_processed.max(report.holders_purged) as u32 >= self.options.keys_per_pass => {
                    Duration::ZERO
                }
                Ok(report) => report
                    .next_due_in_ms
                    .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
                    .map_or(self.options.max_idle, |due| due.min(self.options.max_idle)),
                Err(error) => {
                    tracing::warn!(%error, "expiry pass failed; retrying");
                    self.options.max_idle
                }
            };
            let mut next_pass = Instant::now() + pause;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(next_pass.into()) => break,
                    () = alarm.poke.notified() => {
                        if let Some(asked) = *alarm.asked() {
                            next_pass = next_pass.min(asked);
                        }
                    }
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}
