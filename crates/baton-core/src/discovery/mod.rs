//! Service discovery: services, their instances (address, tags, metadata) and the instances' health, known
//! from a TTL the instance renews or a check Baton runs (HTTP or TCP).
//!
//! [`engine`] holds the rules over [`engine::DiscoveryTx`]; [`service::DiscoveryService`] validates input and
//! serves blocking queries and watches from the change feed; [`duty::DiscoveryReaper`] records lapsed TTLs
//! and removes long-critical instances; [`prober`] decides which node runs the checks (the one holding
//! [`prober_key`]), while the checks themselves run in `baton-server`, which owns the network clients.
//! It deliberately keeps no instance state in memory: every decision is the store's.

pub mod duty;
pub mod engine;
pub mod model;
pub mod prober;
pub mod service;
pub mod store;
pub mod stored;

pub use duty::DiscoveryReaper;
pub use model::*;
pub use service::DiscoveryService;
pub use store::DiscoveryStore;
