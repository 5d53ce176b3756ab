//! The embedded cache: moka in process, bounded in entries and bytes (TinyLFU eviction), with each entry's own
//! TTL. Invalidation by tag registers a moka predicate, which moka guarantees no later read returns an entry
//! for, so an acknowledged invalidation holds at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::notification::RemovalCause;
use moka::sync::Cache;

use crate::cache::model::{CacheBounds, CacheEntry, CacheUsage};
use crate::cache::store::CacheStore;
use crate::clock::Clock;
use crate::error::{Error, StoreError};
use crate::namespace::Namespace;

type Key = (Namespace, String);

/// Expires each entry at its own `expires_at`.
struct EntryExpiry {
    clock: Arc<dyn Clock>,
}

impl moka::Expiry<Key, Arc<CacheEntry>> for EntryExpiry {
    fn expire_after_create(&self, _key: &Key, entry: &Arc<CacheEntry>, _created_at: Instant) -> Option<Duration> {
        self.time_left(entry)
    }

    fn expire_after_update(
        &self,
        _key: &Key,
        entry: &Arc<CacheEntry>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.time_left(entry)
    }
}

impl EntryExpiry {
    fn time_left(&self, entry: &CacheEntry) -> Option<Duration> {
        let expires_at = entry.expires_at?;
        let left = expires_at.as_millis().saturating_sub(self.clock.now().as_millis());
        Some(Duration::from_millis(u64::try_from(left).unwrap_or(0)))
    }
}

#[derive(Clone)]
pub struct MemoryCache {
    cache: Cache<Key, Arc<CacheEntry>>,
    clock: Arc<dyn Clock>,
    evictions: Arc<AtomicU64>,
}

impl MemoryCache {
    pub fn new(bounds: CacheBounds, clock: Arc<dyn Clock>) -> Self {
        let evictions = Arc::new(AtomicU64::new(0));
        // One capacity bounds both limits: an entry weighs its bytes, but never less than its share of the byte
        // budget at the entry limit, so no more than `max_entries` fit either.
        let share = u32::try_from((bounds.max_bytes / bounds.max_entries.max(1)).max(1)).unwrap_or(u32::MAX);
        let counted = evictions.clone();
        let cache = Cache::builder()
            .max_capacity(bounds.max_bytes)
            .weigher(move |_key: &Key, entry: &Arc<CacheEntry>| {
                u32::try_from(entry.size()).unwrap_or(u32::MAX).max(share)
            })
            .expire_after(EntryExpiry { clock: clock.clone() })
            .support_invalidation_closures()
            .eviction_listener(move |_key, _entry, cause| {
                if cause == RemovalCause::Size {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        Self { cache, clock, evictions }
    }

    /// Whether the entry is live by the cache's clock (moka's own expiry runs on the process's monotonic clock;
    /// this keeps a manual test clock in charge too).
    fn live(&self, entry: &CacheEntry) -> bool {
        entry.expires_at.is_none_or(|expires_at| expires_at > self.clock.now())
    }
}

#[async_trait]
impl CacheStore for MemoryCache {
    async fn get_entries(&self, namespace: &Namespace, keys: &[String]) -> Result<Vec<Option<CacheEntry>>, Error> {
        Ok(keys
            .iter()
            .map(|key| {
                let entry = self.cache.get(&(namespace.clone(), key.clone()))?;
                self.live(&entry).then(|| (*entry).clone())
            })
            .collect())
    }

    async fn put_entries(&self, entries: Vec<CacheEntry>) -> Result<(), Error> {
        for entry in entries {
            self.cache.insert((entry.namespace.clone(), entry.key.clone()), Arc::new(entry));
        }
        Ok(())
    }

    async fn delete_entry(&self, namespace: &Namespace, key: &str) -> Result<bool, Error> {
        Ok(self.cache.remove(&(namespace.clone(), key.to_owned())).is_some())
    }

    async fn invalidate_tags(&self, namespace: &Namespace, tags: &[String]) -> Result<(), Error> {
        let (namespace, tags) = (namespace.clone(), tags.to_vec());
        self.cache
            .invalidate_entries_if(move |(entry_namespace, _), entry| {
                *entry_namespace == namespace && entry.has_any_tag(&tags)
            })
            .map_err(|error| Error::Store(StoreError::Internal(error.to_string())))?;
        Ok(())
    }

    async fn cache_usage(&self) -> Result<CacheUsage, Error> {
        self.cache.run_pending_tasks();
        let bytes = self.cache.iter().map(|(_, entry)| entry.size() as u64).sum();
        Ok(CacheUsage { entries: self.cache.entry_count(), bytes, evictions: self.evictions.load(Ordering::Relaxed) })
    }

    async fn trim_cache(&self, _bounds: CacheBounds) -> Result<u64, Error> {
        let before = self.evictions.load(Ordering::Relaxed);
        self.cache.run_pending_tasks();
        Ok(self.evictions.load(Ordering::Relaxed) - before)
    }
}
