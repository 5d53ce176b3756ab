//! The event duties: removing consumer-group members whose lease lapsed (so their streams pass to the others),
//! and pruning events that truncation or deletion made unreadable. Both are idempotent, so every node of a
//! cluster runs them.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

#[derive(Clone, Debug)]
pub struct EventReaperOptions {
    /// How often lapsed group members are looked for: the longest a lapsed member's streams wait for a new
    /// owner when nobody else touches the group.
    pub member_check_every: Duration,
    pub prune_every: Duration,
    pub events_per_prune: u32,
    pub groups_per_pass: u32,
}

impl Default for EventReaperOptions {
    fn default() -> Self {
        Self {
            member_check_every: Duration::from_secs(1),
            prune_every: Duration::from_secs(10),
            events_per_prune: 5_000,
            groups_per_pass: 100,
        }
    }
}

pub struct EventReaper {
    store: Arc<dyn Store>,
    options: EventReaperOptions,
}

impl EventReaper {
    pub fn new(store: Arc<dyn Store>, options: EventReaperOptions) -> Self {
        Self { store, options }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if let Err(error) = self.store.expire_group_members(self.options.groups_per_pass).await {
                tracing::warn!(%error, "expiring lapsed group members failed; retrying");
            }
            if tokio::time::Instant::now() >= next_prune {
                self.prune().await;
                next_prune = tokio::time::Instant::now() + self.options.prune_every;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.options.member_check_every) => {}
            }
        }
    }

    /// Prunes until a pass removes less than a full batch, so a backlog drains without waiting for more ticks.
    async fn prune(&self) {
        loop {
            match self.store.prune_events(self.options.events_per_prune).await {
                Ok(pruned) => {
                    metrics::counter!("baton_events_pruned_total").increment(pruned);
                    if pruned < u64::from(self.options.events_per_prune) {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "pruning events failed; retrying later");
                    return;
                }
            }
        }
    }
}
