//! Leader election: a lock (one permit, FIFO candidates, TTL, a fencing token as the term) plus observation.
//!
//! [`engine`] wraps the lock rules so that every change of leadership is announced on the change feed;
//! [`service::ElectionService`] campaigns through `LockService`'s waiting, and streams leadership to observers.

pub mod engine;
pub mod model;
pub mod service;
pub mod store;

pub use model::*;
pub use service::ElectionService;
pub use store::ElectionStore;
