//! Size and range limits. Every one is configurable, and each breach has its own error code.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_key_bytes: usize,
    pub max_owner_bytes: usize,
    pub max_metadata_bytes: usize,
    pub max_ttl: Duration,
    pub max_wait: Duration,
    pub max_permits: u32,
    pub max_waiters_per_key: u32,
    /// A job's payload, result or progress, as JSON.
    pub max_job_payload_bytes: usize,
    /// Jobs per enqueue, and items per batch ack.
    pub max_batch: usize,
    /// Jobs per fetch.
    pub max_fetch: u32,
    /// The longest a fetch or a result request may wait.
    pub max_poll: Duration,
    /// One event's data and metadata, as JSON.
    pub max_event_bytes: usize,
    /// Live subscriptions (SSE and WebSocket) one node serves at once.
    pub max_subscriptions: usize,
    /// The cache's bounds: entries, bytes of all entries, and one value's bytes.
    pub max_cache_entries: u64,
    pub max_cache_bytes: u64,
    pub max_cache_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: 512,
            max_owner_bytes: 256,
            max_metadata_bytes: 64 * 1024,
            max_ttl: Duration::from_secs(7 * 24 * 3600),
            max_wait: Duration::from_secs(3600),
            max_permits: 10_000,
            max_waiters_per_key: 10_000,
            max_job_payload_bytes: 256 * 1024,
            max_batch: 1000,
            max_fetch: 1000,
            max_poll: Duration::from_secs(60),
            max_event_bytes: 256 * 1024,
            max_subscriptions: 10_000,
            max_cache_entries: 100_000,
            max_cache_bytes: 256 * 1024 * 1024,
            max_cache_value_bytes: 512 * 1024,
        }
    }
}
