//! Claims: pick a work item, hold it, mark it done, and it is never granted again (the accord pattern).
//!
//! A held claim is a lock on the resource's reserved key, so TTLs, renewal, expiry and fencing tokens are the
//! lock machinery's; [`engine`] adds the done record on top. [`service::ClaimService`] validates input.

pub mod engine;
pub mod model;
pub mod service;
pub mod store;
pub mod stored;

pub use model::*;
pub use service::ClaimService;
pub use store::ClaimStore;
