//! The tag cache: values with TTLs and tags, bulk reads and writes, invalidation by tag that every node honours
//! once acknowledged, size bounds with eviction, and stampede protection through fill leases.
//!
//! Storage is a [`store::CacheStore`]: moka in process when embedded ([`memory::MemoryCache`]), the shared
//! database in a cluster. [`service::CacheService`] validates, counts hits and misses, and hands out fill leases
//! (locks on reserved keys).

pub mod duty;
pub mod memory;
pub mod model;
pub mod service;
pub mod store;

pub use duty::CacheReaper;
pub use memory::MemoryCache;
pub use model::*;
pub use service::{CacheService, CacheStats, CacheWrite, FillRequest};
pub use store::CacheStore;
