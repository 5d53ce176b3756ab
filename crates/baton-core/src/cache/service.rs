//! The cache service: validation, hit and miss counts, and stampede protection. A miss may take the key's fill
//! lease, a lock on the key's reserved lock key, so concurrent readers wait in line for its fill (woken the
//! moment the filler sets the value) instead of all recomputing; a filler that dies lets its lease lapse, and
//! the next reader in line fills instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::value::RawValue;

use crate::cache::model::{CacheBounds, CacheEntry, CacheLookup};
use crate::cache::store::CacheStore;
use crate::clock::Clock;
use crate::error::{Error, ErrorCode};
use crate::limits::Limits;
use crate::lock::service::{AcquireRequest, check_ttl};
use crate::lock::{LockId, LockService, ReleaseParams, reserved_key};
use crate::namespace::Namespace;
use crate::store::Store;

/// Tags one entry may carry, and the longest tag.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_BYTES: usize = 128;
/// The owner every fill lease is held under: the fill token (its lock id) is what proves the filler.
const FILLER: &str = "cache-filler";

/// A value to store, as a client describes it.
#[derive(Clone, Debug)]
pub struct CacheWrite {
    pub key: String,
    pub value: Box<RawValue>,
    pub ttl: Option<Duration>,
    pub tags: Vec<String>,
    /// The fill lease this write ends (from the miss that handed it out).
    pub fill_token: Option<String>,
}

/// A miss that asks for the fill lease, and how long to wait for another caller's fill.
#[derive(Clone, Copy, Debug)]
pub struct FillRequest {
    pub lease: Duration,
    pub wait: Option<Duration>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Clone)]
pub struct CacheService {
    cache: Arc<dyn CacheStore>,
    store: Arc<dyn Store>,
    locks: LockService,
    clock: Arc<dyn Clock>,
    limits: Limits,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheService {
    pub fn new(
        cache: Arc<dyn CacheStore>,
        store: Arc<dyn Store>,
        locks: LockService,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self { cache, store, locks, clock, limits, counts: Arc::default() }
    }

    pub fn bounds(&self) -> CacheBounds {
        CacheBounds { max_entries: self.limits.max_cache_entries, max_bytes: self.limits.max_cache_bytes }
    }

    /// Reads a key, counting one hit or one miss for the request however many times it looks.
    pub async fn get(&self, namespace: &Namespace, key: &str, fill: Option<FillRequest>) -> Result<CacheLookup, Error> {
        let lookup = self.lookup_or_fill(namespace, key, fill).await?;
        let counter = if matches!(lookup, CacheLookup::Hit(_)) { &self.counts.hits } else { &self.counts.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(lookup)
    }

    async fn lookup_or_fill(
        &self,
        namespace: &Namespace,
        key: &str,
        fill: Option<FillRequest>,
    ) -> Result<CacheLookup, Error> {
        self.limits.check_key("the cache key", key)?;
        if let Some(entry) = self.lookup(namespace, key).await? {
            return Ok(CacheLookup::Hit(entry));
        }
        let Some(fill) = fill else { return Ok(self.miss(None, false)) };
        let lease = AcquireRequest {
            namespace: namespace.clone(),
            key: reserved_key("cache-fill", key),
            owner: FILLER.into(),
            ttl: fill.lease,
            wait: fill.wait,
            permits: Some(1),
            lease_id: None,
            metadata: None,
        };
        let granted = match self.locks.acquire_through(lease, |store, params| store.acquire(params)).await {
            Ok(holder) => holder,
            // Someone else is filling; without a wait (or when it ran out) the caller hears just that.
            Err(Error::LockHeld { .. } | Error::LockWaitTimeout { .. }) => return Ok(self.miss(None, true)),
            Err(other) => return Err(other),
        };
        // Granted after waiting: the filler before us may have set it.
        if fill.wait.is_some()
            && let Some(entry) = self.lookup(namespace, key).await?
        {
            self.release_fill(namespace, key, granted.lock_id).await;
            return Ok(CacheLookup::Hit(entry));
        }
        Ok(self.miss(Some(granted.lock_id.to_string()), false))
    }

    async fn lookup(&self, namespace: &Namespace, key: &str) -> Result<Option<CacheEntry>, Error> {
        Ok(self.cache.get_entries(namespace, std::slice::from_ref(&key.to_owned())).await?.pop().flatten())
    }

    fn miss(&self, fill_token: Option<String>, filling: bool) -> CacheLookup {
        CacheLookup::Miss { fill_token, filling }
    }

    async fn release_fill(&self, namespace: &Namespace, key: &str, lease: LockId) {
        let release = ReleaseParams {
            namespace: namespace.clone(),
            key: reserved_key("cache-fill", key),
            lock_id: lease,
            owner: FILLER.into(),
        };
        // A lease that lapsed meanwhile is already gone: nothing to release.
        if let Err(error) = self.store.release(release).await
            && !matches!(error, Error::LockNotHeld { .. })
        {
            tracing::warn!(%error, "releasing a cache fill lease failed; it lapses with its TTL");
        }
    }

    /// The live entries of `keys`, in order.
    pub async fn get_many(&self, namespace: &Namespace, keys: &[String]) -> Result<Vec<Option<CacheEntry>>, Error> {
        self.limits.check_batch(keys.len())?;
        for key in keys {
            self.limits.check_key("the cache key", key)?;
        }
        let found = self.cache.get_entries(namespace, keys).await?;
        let hits = found.iter().filter(|entry| entry.is_some()).count() as u64;
        self.counts.hits.fetch_add(hits, Ordering::Relaxed);
        self.counts.misses.fetch_add(found.len() as u64 - hits, Ordering::Relaxed);
        Ok(found)
    }

    /// Stores each value; a write that carries a fill token ends that fill lease, waking the readers in line.
    pub async fn set(&self, namespace: &Namespace, writes: Vec<CacheWrite>) -> Result<Vec<CacheEntry>, Error> {
        self.limits.check_batch(writes.len())?;
        let now = self.clock.now();
        let mut entries = Vec::with_capacity(writes.len());
        let mut fills = Vec::new();
        for write in writes {
            self.limits.check_key("the cache key", &write.key)?;
            self.check_tags(&write.tags)?;
            if write.value.get().len() > self.limits.max_cache_value_bytes {
                return Err(Error::invalid(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "the value is {} bytes; the limit is {}",
                        write.value.get().len(),
                        self.limits.max_cache_value_bytes
                    ),
                ));
            }
            let ttl_ms = write.ttl.map(|ttl| check_ttl(ttl, self.limits.max_ttl)).transpose()?;
            if let Some(token) = &write.fill_token {
                let lease = LockId::parse(token).ok_or_else(|| {
                    Error::invalid(ErrorCode::InvalidArgument, "fill_token is not one this server issued")
                })?;
                fills.push((write.key.clone(), lease));
            }
            entries.push(CacheEntry {
                namespace: namespace.clone(),
                key: write.key,
                value: write.value,
                tags: write.tags,
                created_at: now,
                expires_at: ttl_ms.map(|ms| crate::clock::Timestamp(now.as_millis().saturating_add(ms))),
            });
        }
        self.cache.put_entries(entries.clone()).await?;
        for (key, lease) in fills {
            self.release_fill(namespace, &key, lease).await;
        }
        Ok(entries)
    }

    pub async fn delete(&self, namespace: &Namespace, key: &str) -> Result<bool, Error> {
        self.limits.check_key("the cache key", key)?;
        self.cache.delete_entry(namespace, key).await
    }

    pub async fn invalidate(&self, namespace: &Namespace, tags: Vec<String>) -> Result<(), Error> {
        if tags.is_empty() {
            return Err(Error::invalid(ErrorCode::InvalidArgument, "name at least one tag to invalidate"));
        }
        self.limits.check_batch(tags.len())?;
        for tag in &tags {
            check_tag(tag)?;
        }
        self.cache.invalidate_tags(namespace, &tags).await
    }

    /// This node's hits and misses, and the cache's size and evictions.
    pub async fn stats(&self) -> Result<CacheStats, Error> {
        let usage = self.cache.cache_usage().await?;
        Ok(CacheStats {
            hits: self.counts.hits.load(Ordering::Relaxed),
            misses: self.counts.misses.load(Ordering::Relaxed),
            evictions: usage.evictions,
            entries: usage.entries,
            bytes: usage.bytes,
        })
    }

    fn check_tags(&self, tags: &[String]) -> Result<(), Error> {
        if tags.len() > MAX_TAGS {
            return Err(Error::invalid(
                ErrorCode::InvalidArgument,
                format!("an entry carries at most {MAX_TAGS} tags; this one has {}", tags.len()),
            ));
        }
        tags.iter().try_for_each(|tag| check_tag(tag))
    }
}

fn check_tag(tag: &str) -> Result<(), Error> {
    if tag.is_empty() || tag.len() > MAX_TAG_BYTES || tag.chars().any(char::is_control) {
        return Err(Error::invalid(
            ErrorCode::InvalidArgument,
            format!("a tag is 1 to {MAX_TAG_BYTES} bytes without control characters"),
        ));
    }
    Ok(())
}
