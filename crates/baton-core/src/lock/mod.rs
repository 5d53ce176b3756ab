//! Locks: named, TTL-bound, optionally counted (semaphores), with FIFO waiters and fencing tokens.
//!
//! The rules (who is granted, in what order) live in [`engine`] once for every backend; the backends supply
//! the statements through [`engine::LockTx`]. [`service::LockService`] adds what a store cannot do alone:
//! waiting for a wake-up, timeouts and input validation.

pub mod engine;
pub mod model;
pub mod reaper;
pub mod service;
pub mod store;
mod waiters;

pub use model::*;
pub use reaper::{ExpiryReaper, ReaperHandle};
pub use service::LockService;
pub use store::LockStore;
