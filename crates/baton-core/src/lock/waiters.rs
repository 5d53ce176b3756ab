//! The callers on this node that wait for a lock, and the task that wakes them when the store's change
//! feed reports their grant (committed by this node or, through the backend's feed, by another one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::lock::{Holder, LockId};
use crate::store::{Change, Followed, Grant, follow_changes};

#[derive(Debug, Default)]
pub(crate) struct WaiterRegistry {
    waiting: Mutex<HashMap<LockId, Arc<Slot>>>,
}

/// Where one waiter is woken, and handed its holder when this node committed the grant.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub(crate) wake: Notify,
    granted: Mutex<Option<Arc<Holder>>>,
}

impl Slot {
    /// The holder this node's own grant brought, if one did: the waiter need not read its state.
    pub(crate) fn take_grant(&self) -> Option<Holder> {
        let granted = self.granted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        granted.map(Arc::unwrap_or_clone)
    }
}

/// Keeps a waiter registered; dropping it unregisters.
pub(crate) struct Registration {
    registry: Arc<WaiterRegistry>,
    lock_id: LockId,
    pub(crate) slot: Arc<Slot>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.lock_id);
    }
}

impl WaiterRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LockId, Arc<Slot>>> {
        // A panic while holding this map cannot leave it inconsistent (single inserts and removes).
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers before the store call that may queue the caller, so a grant committed right after the queueing
    /// cannot be missed: `Notify` keeps the permit until the caller waits.
    pub(crate) fn register(self: &Arc<Self>, lock_id: LockId) -> Registration {
        let slot = Arc::new(Slot::default());
        self.lock().insert(lock_id, slot.clone());
        Registration { registry: self.clone(), lock_id, slot }
    }

    fn wake(&self, grants: Vec<Grant>) {
        let waiting = self.lock();
        for grant in grants {
            if let Some(slot) = waiting.get(&grant.lock_id) {
                if let Some(holder) = grant.holder {
                    *slot.granted.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(holder);
                }
                slot.wake.notify_one();
            }
        }
    }

    fn wake_all(&self) {
        for slot in self.lock().values() {
            slot.wake.notify_one();
        }
    }

    /// Forwards the change feed to registered waiters until shutdown.
    pub(crate) async fn dispatch(self: Arc<Self>, changes: broadcast::Receiver<Change>, shutdown: CancellationToken) {
        follow_changes(changes, shutdown, |followed| match followed {
            Followed::Change(Change::WaitersGranted(grants)) => self.wake(grants),
            Followed::Change(_) => {}
            Followed::Lost => self.wake_all(),
        })
        .await;
    }
}
