//! Baton's domain: ids, validation rules, the services, the background duties, the clock and the store port.
//!
//! It deliberately knows no SQL, no HTTP and no wire format: transports and backends depend on it, never
//! the other way round.

pub mod cache;
pub mod claim;
pub mod clock;
pub mod discovery;
pub mod election;
pub mod error;
pub mod event;
pub mod health;
pub mod job;
pub mod lease;
pub mod limits;
pub mod lock;
pub mod namespace;
pub mod page;
pub mod saga;
pub mod store;
pub mod stored;
pub mod streaming;
pub(crate) mod wakeups;
pub mod workflow;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{Error, ErrorCode, StoreError};
pub use limits::Limits;
pub use namespace::Namespace;
pub use store::Store;
