//! The cache port. Unlike the other primitives' it is not part of `Store`: the embedded cache lives in memory
//! ([`crate::cache::memory::MemoryCache`]), and a cluster's in the shared database, so that every node sees every
//! invalidation.

use async_trait::async_trait;

use crate::cache::model::{CacheBounds, CacheEntry, CacheUsage};
use crate::error::Error;
use crate::namespace::Namespace;

#[async_trait]
pub trait CacheStore: Send + Sync + 'static {
    /// The live entries of `keys`, in order (`None`: missing or expired).
    async fn get_entries(&self, namespace: &Namespace, keys: &[String]) -> Result<Vec<Option<CacheEntry>>, Error>;

    /// Stores (or replaces) each entry.
    async fn put_entries(&self, entries: Vec<CacheEntry>) -> Result<(), Error>;

    /// Returns whether the key had an entry.
    async fn delete_entry(&self, namespace: &Namespace, key: &str) -> Result<bool, Error>;

    /// Removes every entry of the namespace that carries one of `tags`. Once this returns, no read anywhere
    /// returns one of them.
    async fn invalidate_tags(&self, namespace: &Namespace, tags: &[String]) -> Result<(), Error>;

    async fn cache_usage(&self) -> Result<CacheUsage, Error>;

    /// Drops expired entries and evicts the oldest beyond `bounds`; returns how many it evicted for size.
    async fn trim_cache(&self, bounds: CacheBounds) -> Result<u64, Error>;
}
