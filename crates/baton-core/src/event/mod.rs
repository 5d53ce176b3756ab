//! The event store: append-only streams with versions and optimistic concurrency, one ordered log per namespace
//! (`$all`) with gapless global positions, subscriptions that catch up then go live, and consumer groups.
//!
//! The append rules live once in [`engine`] over the backends' [`engine::EventTx`]; consumer-group rules in
//! [`group::engine`]. [`service::EventService`] validates input and wakes subscribers; [`subscription`] turns
//! the store into catch-up-then-live streams; [`duty::EventReaper`] prunes what truncation made unreadable
//! and removes lapsed group members.

pub mod duty;
pub mod engine;
pub mod group;
pub mod model;
pub mod service;
pub mod store;
pub mod stored;
pub mod subscription;

pub use duty::{EventReaper, EventReaperOptions};
pub use model::*;
pub use service::{AppendRequest, EventInput, EventService, ReadAllRequest, ReadStreamRequest, StreamSettingsRequest};
pub use store::{EventStore, GroupStore};
pub use subscription::{SubscribeRequest, SubscriptionItem, SubscriptionTarget};
