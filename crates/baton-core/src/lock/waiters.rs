//! The callers on this node that wait for a lock, and the task that wakes them when the store's change
//! feed reports their grant (committed by this node or, through the backend's feed, by another one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::lock::LockId;
use crate::store::{Change, Followed, follow_changes};

#[derive(Debug, Default)]
pub(crate) struct WaiterRegistry {
    waiting: Mutex<HashMap<LockId, Arc<Notify>>>,
}

/// Keeps a waiter registered; dropping it unregisters.
pub(crate) struct Registration {
    registry: Arc<WaiterRegistry>,
    lock_id: LockId,
    pub(crate) wake: Arc<Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.lock_id);
    }
}

impl WaiterRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LockId, Arc<Notify>>> {
        // A panic while holding this map cannot leave it inconsistent (single inserts and removes).
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers before the store call that may queue the caller, so a grant committed right after the queueing
    /// cannot be missed: `Notify` keeps the permit until the caller waits.
    pub(crate) fn register(self: &Arc<Self>, lock_id: LockId) -> Registration {
        let wake = Arc::new(Notify::new());
        self.lock().insert(lock_id, wake.clone());
        Registration { registry: self.clone(), lock_id, wake }
    }

    fn wake(&self, ids: &[LockId]) {
        let waiting = self.lock();
        for id in ids {
            if let Some(wake) = waiting.get(id) {
                wake.notify_one();
            }
        }
    }

    fn wake_all(&self) {
        for wake in self.lock().values() {
            wake.notify_one();
        }
    }

    /// Forwards the change feed to registered waiters until shutdown.
    pub(crate) async fn dispatch(self: Arc<Self>, changes: broadcast::Receiver<Change>, shutdown: CancellationToken) {
        follow_changes(changes, shutdown, |followed| match followed {
            Followed::Change(Change::WaitersGranted(ids)) => self.wake(&ids),
            Followed::Change(_) => {}
            Followed::Lost => self.wake_all(),
        })
        .await;
    }
}
