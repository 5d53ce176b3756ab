//! The cache's duty: drops expired entries and evicts beyond the size limits, where the cache does not do it
//! itself (the shared table of a cluster; moka only needs its pending work run).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cache::model::CacheBounds;
use crate::cache::store::CacheStore;

const TRIM_EVERY: Duration = Duration::from_secs(5);

pub struct CacheReaper {
    cache: Arc<dyn CacheStore>,
    bounds: CacheBounds,
}

impl CacheReaper {
    pub fn new(cache: Arc<dyn CacheStore>, bounds: CacheBounds) -> Self {
        Self { cache, bounds }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.cache.trim_cache(self.bounds).await {
                Ok(evicted) => metrics::counter!("baton_cache_evictions_total").increment(evicted),
                Err(error) => tracing::warn!(%error, "trimming the cache failed; retrying"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(TRIM_EVERY) => {}
            }
        }
    }
}
