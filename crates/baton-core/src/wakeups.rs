//! Callers on this node that wait for something keyed (a queue to get jobs, a job to finish), and the fan-out
//! that wakes them from the store's change feed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Every waiter on a key shares one `Notify`; the entry goes when its last waiter does.
pub(crate) struct Wakeups<K: Eq + Hash + Clone> {
    watched: Mutex<HashMap<K, (Arc<Notify>, usize)>>,
}

impl<K: Eq + Hash + Clone> Default for Wakeups<K> {
    fn default() -> Self {
        Self { watched: Mutex::new(HashMap::new()) }
    }
}

/// Keeps a key watched; dropping it stops watching.
pub(crate) struct Watch<K: Eq + Hash + Clone> {
    wakeups: Arc<Wakeups<K>>,
    key: K,
    pub(crate) notify: Arc<Notify>,
}

impl<K: Eq + Hash + Clone> Drop for Watch<K> {
    fn drop(&mut self) {
        let mut watched = self.wakeups.lock();
        if let Some((_, count)) = watched.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                watched.remove(&self.key);
            }
        }
    }
}

impl<K: Eq + Hash + Clone> Wakeups<K> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, (Arc<Notify>, usize)>> {
        // Single inserts and removes: a panic while holding the map cannot leave it inconsistent.
        self.watched.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn watch(self: &Arc<Self>, key: K) -> Watch<K> {
        let mut watched = self.lock();
        let entry = watched.entry(key.clone()).or_insert_with(|| (Arc::new(Notify::new()), 0));
        entry.1 += 1;
        Watch { wakeups: self.clone(), key, notify: entry.0.clone() }
    }

    /// Wakes every caller waiting on `key` right now (callers enable their `Notified` before they look).
    pub(crate) fn wake(&self, key: &K) {
        if let Some((notify, _)) = self.lock().get(key) {
            notify.notify_waiters();
        }
    }

    pub(crate) fn wake_all(&self) {
        for (notify, _) in self.lock().values() {
            notify.notify_waiters();
        }
    }
}
